"""Two colleagues with no signal (issue 27, ADR 0030): the grid worker and the mediator edit the
same dispute offline, exchange a bundle file and then a session over an in-memory pipe; only the
mediator reaches the server, carrying the worker's work as the worker's; the worker syncs a day
later and nothing is stored twice or lost."""

import io

import pytest
from PIL import Image

from conftest import GRID, PASSWORD, open_store
from test_field_day import camera_photo, new_case

DISPUTE_TITLE = "李王两家宅基地纠纷"


def session(ffi, opener, answerer):
    """A whole session, bytes carried by hand: the outcomes of (opener, answerer)."""
    msg = opener.peer_start()
    sides = [answerer, opener]
    outcomes = {}
    turn = 0
    while msg is not None:
        side = sides[turn % 2]
        step = side.peer_step(msg)
        if step.done:
            outcomes[turn % 2] = step.outcome
        msg = step.send
        turn += 1
    return outcomes[1], outcomes[0]


def history_of(server, token, case):
    return server.get(f"/v1/cases/{case}", token)["history"]


def test_two_phones_without_signal_merge_and_one_carries_both(ffi, server, tmp_path):
    wang = open_store(tmp_path / "wang.db")
    zhao = open_store(tmp_path / "zhao.db")
    other = open_store(tmp_path / "other.db")
    wang.login(server.url, "wang", PASSWORD)
    zhao.login(server.url, "zhao", PASSWORD)
    # The sign-in brings the device certificate a colleague's phone checks offline.
    assert len(wang.peer_card()) > 100 and wang.peer_card() != zhao.peer_card()

    # Morning, online: wang reports the dispute; both phones hold it (and a certificate).
    dispute = wang.capture(
        new_case(
            ffi,
            kind="dispute",
            jurisdiction=GRID,
            category="dispute_land_boundary",
            title="宅基地纠纷",
            people=[ffi.PartyRecord(name="李四", role="applicant", phone="13800000000")],
        )
    )
    wang.sync(server.url, None)
    zhao.sync(server.url, None)
    assert [c.id for c in zhao.list_cases(ffi.CaseFilterRecord())] == [dispute]
    card = zhao.peer_card()
    token = server.login("chen")
    before = history_of(server, token, dispute)

    # The village has no signal for days.
    server.stop()
    wang.set_title(dispute, DISPUTE_TITLE)
    wang_photo = tmp_path / "wall.jpg"
    wang_photo.write_bytes(camera_photo())
    wang_sha = wang.attach_photo(dispute, str(wang_photo), "东墙现场", 37.1, 115.0).sha256
    zhao.add_mediation_session(
        dispute,
        ffi.MediationSessionRecord(
            at_ms=1_790_000_000_000, mediators=["zhao"], notes="双方同意现场测量", outcome="adjourned"
        ),
    )
    zhao_photo = tmp_path / "meeting.jpg"
    zhao_photo.write_bytes(camera_photo())
    zhao_sha = zhao.attach_photo(dispute, str(zhao_photo), "调解现场", None, None).sha256

    # A bundle file first (a messaging app): it opens only on the phone it was made for.
    bundle = wang.peer_bundle(card)
    with pytest.raises(ffi.FfiError.Peer) as wrong:
        wang.peer_import(bundle)
    assert wrong.value.code == "peer_out_of_order"
    took = zhao.peer_import(bundle)
    assert (took.peer_user, took.received_cases) == ("wang", [dispute])
    assert took.to_carry == took.received_changes > 0
    assert zhao.get_case(dispute).title == DISPUTE_TITLE
    # A phone never signed in and synced has no certificate to show.
    with pytest.raises(ffi.FfiError.Peer) as none:
        other.peer_start()
    assert none.value.code in ("no_certificate",)

    # Then a session over an in-memory pipe: each gets what it lacks.
    opened, answered = session(ffi, wang, zhao)
    assert (opened.peer_user, answered.peer_user) == ("zhao", "wang")
    assert opened.received_cases == [dispute] and opened.to_carry > 0
    for phone in (wang, zhao):
        case = phone.get_case(dispute)
        assert case.title == DISPUTE_TITLE
        assert [s.notes for s in case.mediation.sessions] == ["双方同意现场测量"]
        assert sorted(a.sha256 for a in case.attachments) == sorted([wang_sha, zhao_sha])
        assert [p.name for p in case.people] == ["李四"]
    for phone, theirs in ((wang, zhao_sha), (zhao, wang_sha)):
        thumb = phone.thumbnail(theirs)
        assert thumb is not None and Image.open(io.BytesIO(thumb)).format == "JPEG"
        assert max(Image.open(io.BytesIO(thumb)).size) <= 320
        held = [a for a in phone.get_case(dispute).attachments if a.sha256 == theirs][0]
        assert held.thumbnail_on_phone and not held.on_phone

    # Only the mediator reaches town.
    server.start()
    out = zhao.sync(server.url, None)
    assert out.rejected == 0 and zhao.pending_count() == 0
    detail = server.get(f"/v1/cases/{dispute}", token)
    assert detail["case"]["title"] == DISPUTE_TITLE
    assert len(detail["case"]["mediation"]["sessions"]) == 1
    history = detail["history"]
    carried = [h for h in history if h.get("relayed_by")]
    assert carried, history
    for h in carried:
        assert (h["device"], h["user"]) == (wang.device_id(), "wang")
        assert h["relayed_by"] == {"device": zhao.device_id(), "user": "zhao"}
        assert h["signed_by"] == wang.device_id()
    new = [h for h in history if h["seq"] not in {b["seq"] for b in before}]
    assert {h["user"] for h in new} == {"wang", "zhao"}

    # Wang syncs a day later: his photo goes up, no change is stored twice, nothing is lost.
    later = wang.sync(server.url, None)
    assert later.rejected == 0 and wang.pending_count() == 0
    assert later.uploaded_attachments == 1
    after = history_of(server, token, dispute)
    assert len(after) == len(history)
    hashes = [h["hash"] for h in after]
    assert len(hashes) == len(set(hashes))
    zhao.sync(server.url, None)
    mine, theirs = wang.get_case(dispute), zhao.get_case(dispute)
    assert (mine.title, len(mine.mediation.sessions)) == (theirs.title, 1)
    stored = server.get(f"/v1/cases/{dispute}", token)["case"]["attachments"]
    assert sorted(a["sha256"] for a in stored) == sorted([wang_sha, zhao_sha])
    # Both photos whole on the server: each uploaded by the phone that took it.
    bearer = {"Authorization": f"Bearer {token}"}
    for sha in (wang_sha, zhao_sha):
        status, blob = server.request("GET", f"/v1/blobs/{sha}", headers=bearer)
        assert status == 200 and len(blob) > 0


def run_session(opener, answerer):
    """A session, bytes carried by hand: the size of each message in order."""
    msg, sides, sizes, turn = opener.peer_start(), [answerer, opener], [], 0
    while msg is not None:
        sizes.append(len(msg))
        msg = sides[turn % 2].peer_step(msg).send
        turn += 1
    return sizes


def test_peer_sizes_only_what_is_missing_travels(ffi, server, tmp_path):
    """Bytes on the link (BLE, QR codes): a bundle of new disputes, then one edit on each phone
    of every shared dispute. Printed for docs/BENCHMARKS.md (`-k peer_sizes -s`)."""
    n = 200
    wang, zhao = open_store(tmp_path / "w.db"), open_store(tmp_path / "z.db")
    wang.login(server.url, "wang", PASSWORD)
    zhao.login(server.url, "zhao", PASSWORD)
    ids = [
        wang.capture(
            new_case(
                ffi,
                kind="dispute",
                jurisdiction=GRID,
                category="dispute_land_boundary",
                title=f"宅基地纠纷 {i}",
                description="两户因宅基地边界发生争执，东墙越界两米。",
                address="西街3号",
                people=[ffi.PartyRecord(name="李四", role="applicant", phone="13800000000")],
            )
        )
        for i in range(n)
    ]
    bundle = wang.peer_bundle(zhao.peer_card())
    assert zhao.peer_import(bundle).received_changes == n
    for i in ids:
        wang.set_title(i, "改过的标题")
        zhao.set_description(i, "调解员补充的情况说明。")
    edited = run_session(wang, zhao)
    idle = run_session(wang, zhao)
    print(
        f"\npeer sizes, {n} disputes: bundle {len(bundle)} B ({len(bundle) / n:.0f} B/case); "
        f"one edit each, session {edited} B; nothing new, session {idle} B"
    )
    # Each give carries one small change per case, far less than the cases themselves.
    assert edited[2] < len(bundle) * 0.8 and edited[3] < len(bundle) * 0.8
    assert all(zhao.get_case(i).title == "改过的标题" for i in ids)
    assert all(wang.get_case(i).description == "调解员补充的情况说明。" for i in ids)
    # Nothing new: only the offers travel, no changes.
    assert idle[2] < edited[2] and idle[3] < edited[3]
