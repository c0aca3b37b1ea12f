"""A field day through the generated Python bindings against a real `gridsync serve`.

A grid worker (wang) and a village mediator (zhao) capture and edit cases offline, one case by
both, then sync in turn; both phones must end with the same cases and conflicts as the server.
"""

import io
import secrets

import pytest
from PIL import Image

from conftest import GRID, OTHER_GRID, PASSWORD, VILLAGE, app_request, open_store, trusting

# Text that must never appear in plain form in a phone's store file.
SECRET_TITLE = "宅基地边界纠纷-李四家"
SECRET_NAME = "李四"
SECRET_DESCRIPTION = "东墙越界两米 MARKER-7f3a"


class Recorder:
    """The app's log sink: keeps every line."""

    def __init__(self, ffi):
        self.lines = []
        base = ffi.LogSink

        class Sink(base):
            def log(_self, level, message):
                self.lines.append((level, message))

        self.sink = Sink()


class Progress:
    """The app's upload progress callback: keeps every report."""

    def __init__(self, ffi):
        self.calls = []
        base = ffi.SyncProgress

        class Sink(base):
            def upload_progress(_self, sha256, sent_bytes, total_bytes):
                self.calls.append((sha256, sent_bytes, total_bytes))

        self.sink = Sink()


def camera_photo():
    """A JPEG as a phone camera makes one (noise, so it does not shrink): about 150 KB."""
    img = Image.frombytes("RGB", (256, 256), secrets.token_bytes(256 * 256 * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95)
    return out.getvalue()


def credentials(ffi, user):
    return ffi.CredentialsRecord(user=user, password=PASSWORD)


def new_case(ffi, **kw):
    return ffi.NewCaseRecord(**kw)


def all_cases(ffi, store):
    return store.list_cases(ffi.CaseFilterRecord())


def conflicts_of(detail_conflicts):
    """Phone conflicts as comparable tuples: field → sorted (value, user)."""
    return {
        c.field: sorted((v.value, v.user) for v in c.values) for c in detail_conflicts
    }


def server_conflicts(server_detail):
    return {
        c["field"]: sorted((v["value"], v["author"]["user"]) for v in c["values"])
        for c in server_detail["conflicts"]
    }


def file_bytes(path):
    """The store file and its write-ahead log: every byte on disk."""
    data = b""
    for suffix in ("", "-wal"):
        p = path.parent / (path.name + suffix)
        if p.exists():
            data += p.read_bytes()
    return data


def test_a_field_day_merges_two_phones_and_the_server(ffi, server, tmp_path):
    log = Recorder(ffi)
    ffi.set_log_sink(log.sink, ffi.LogLevel.DEBUG)
    try:
        _field_day(ffi, server, tmp_path, log)
    finally:
        ffi.clear_log_sink()


def _field_day(ffi, server, tmp_path, log):
    wang_file = tmp_path / "wang.db"
    wang = open_store(wang_file)
    zhao = open_store(tmp_path / "zhao.db")
    assert wang.device_id() != zhao.device_id()

    # Morning, online: both sign in; wang reports a dispute and syncs; zhao pulls it.
    signed = wang.login(server.url, "wang", PASSWORD)
    assert (signed.role, signed.scope) == ("grid_worker", GRID)
    zhao.login(server.url, "zhao", PASSWORD)
    assert zhao.signed_in().role == "mediator"

    dispute = wang.capture(
        new_case(
            ffi,
            kind="dispute",
            jurisdiction=GRID,
            category="dispute_land_boundary",
            title=SECRET_TITLE,
            description=SECRET_DESCRIPTION,
            address="西街3号",
            people=[
                ffi.PartyRecord(name=SECRET_NAME, role="applicant", phone="13800000000"),
                ffi.PartyRecord(name="王五", role="respondent"),
            ],
        )
    )
    assert wang.pending_count() == 1
    out = wang.sync(server.url, None)
    assert out.accepted >= 1 and out.rejected == 0
    assert wang.pending_count() == 0
    zhao.sync(server.url, None)
    assert [c.id for c in all_cases(ffi, zhao)] == [dispute]

    # The township loses its connection: everything below is offline.
    server.stop()

    # Both edit the same case's title; zhao also logs a mediation session and the agreement.
    wang.set_title(dispute, "宅基地纠纷（东墙）")
    zhao.set_title(dispute, "李王两家宅基地纠纷")
    zhao.add_mediation_session(
        dispute,
        ffi.MediationSessionRecord(
            at_ms=1_790_000_000_000, mediators=["zhao"], notes="双方同意现场测量", outcome="adjourned"
        ),
    )
    zhao.set_agreement(dispute, "双方同意以测量结果为界。")
    # Each also captures cases of their own.
    photo = tmp_path / "lamp.jpg"
    photo.write_bytes(camera_photo())
    lamp = wang.capture(
        new_case(ffi, kind="incident", jurisdiction=GRID, category="street_light", title="路灯不亮")
    )
    attached = wang.attach_photo(lamp, str(photo), "现场照片", 37.1, 115.0)
    assert (attached.mime, attached.bytes) == ("image/jpeg", photo.stat().st_size)
    # The store holds its own copy: the app may delete its file.
    assert wang.attachment_bytes(attached.sha256) == photo.read_bytes()
    household = wang.capture(
        new_case(
            ffi, kind="household", jurisdiction=GRID, category="household_person", title="张家户籍信息"
        )
    )
    wang.set_field(household, "members", "4")
    wang.add_person(household, ffi.PartyRecord(name="张一", role="member"))
    # A case in the neighbouring grid is refused on the phone at once, with the reason.
    with pytest.raises(ffi.FfiError.InvalidInput) as outside:
        wang.capture(
            new_case(
                ffi, kind="incident", jurisdiction=OTHER_GRID, category="road_damage", title="邻村道路塌陷"
            )
        )
    assert "out of scope" in outside.value.reason
    family = zhao.capture(
        new_case(
            ffi,
            kind="dispute",
            jurisdiction=GRID,
            category="dispute_marriage_family",
            title="赡养纠纷",
        )
    )
    # A step the mediator's role may take offline: accepting the dispute for mediation.
    zhao.append_event(family, ffi.EventKind.ACCEPTED(), "村调委会受理")
    with pytest.raises(ffi.FfiError.InvalidInput) as bad:
        wang.append_event(lamp, ffi.EventKind.ARCHIVED(), "")
    assert bad.value.field == "workflow"

    # Syncing with the server down raises the retryable network error and loses nothing.
    before = sorted((c.id, c.title) for c in all_cases(ffi, wang))
    pending = wang.pending_count()
    assert pending == 3
    with pytest.raises(ffi.FfiError.Network):
        wang.sync("http://127.0.0.1:9", credentials(ffi, "wang"))
    assert wang.pending_count() == pending
    assert sorted((c.id, c.title) for c in all_cases(ffi, wang)) == before

    # The connection returns; they sync in turn, then once more to pick up each other's work.
    server.start()
    progress = Progress(ffi)
    first = wang.sync_with_progress(server.url, credentials(ffi, "wang"), progress.sink)
    # One change per offline edit: a title, two captures, a photo, a field and a person.
    assert (first.accepted, first.rejected) == (6, 0)
    assert wang.pending_count() == 0
    # The photo went up after its case, and the app heard it go.
    size = photo.stat().st_size
    assert (first.uploaded_attachments, first.pending_uploads) == (1, 0)
    assert progress.calls[-1] == (attached.sha256, size, size)
    assert {(sha, total) for sha, _, total in progress.calls} == {(attached.sha256, size)}
    assert wang.get_case(lamp).attachments[0].uploaded
    seen = zhao.sync(server.url, credentials(ffi, "zhao"))
    # The mediator's phone fetched the photo's thumbnail with the case.
    assert seen.fetched_thumbnails == 1
    thumb = zhao.thumbnail(attached.sha256)
    assert thumb is not None and Image.open(io.BytesIO(thumb)).format == "JPEG"
    assert max(Image.open(io.BytesIO(thumb)).size) <= 320
    on_zhao = zhao.get_case(lamp).attachments[0]
    assert on_zhao.thumbnail_on_phone and not on_zhao.on_phone
    # The full picture when the mediator opens it (no EXIF in this one, so the same bytes).
    assert zhao.fetch_attachment(server.url, attached.sha256) == photo.read_bytes()
    assert zhao.get_case(lamp).attachments[0].on_phone
    wang.sync(server.url, credentials(ffi, "wang"))
    assert zhao.pending_count() == 0

    # Both phones and the server hold the same cases (wang's refused one aside).
    token = server.login("chen")
    on_server = {
        row["id"]: row for row in server.get("/v1/cases?per_page=200", token)["items"]
    }
    expected = {dispute, lamp, household, family}
    assert set(on_server) == expected
    wang_ids = {c.id for c in all_cases(ffi, wang)}
    zhao_ids = {c.id for c in all_cases(ffi, zhao)}
    assert wang_ids == zhao_ids == expected
    for phone in (wang, zhao):
        for case_id in expected:
            mine = phone.get_case(case_id)
            theirs = server.get(f"/v1/cases/{case_id}", token)
            assert mine.sync_state == "synced"
            assert mine.title == theirs["case"]["title"]
            assert mine.status == theirs["workflow"]["status"]
            assert conflicts_of(mine.conflicts) == server_conflicts(theirs)

    # The concurrent titles are both kept, each with who wrote it; the rest merged cleanly.
    merged = zhao.get_case(dispute)
    assert conflicts_of(merged.conflicts) == {
        "title": sorted([("宅基地纠纷（东墙）", "wang"), ("李王两家宅基地纠纷", "zhao")])
    }
    assert merged.mediation.agreement == "双方同意以测量结果为界。"
    assert [s.notes for s in merged.mediation.sessions] == ["双方同意现场测量"]
    assert [p.name for p in merged.people] == [SECRET_NAME, "王五"]
    assert wang.list_cases(ffi.CaseFilterRecord(conflict_only=True))[0].id == dispute
    assert wang.get_case(family).status == "accepted"
    assert wang.get_case(household).extra == {"members": "4"}
    # The photo reference reached the mediator's phone with the case.
    assert [a.sha256 for a in zhao.get_case(lamp).attachments] == [attached.sha256]

    # Nothing captured is on disk in plain form.
    raw = file_bytes(wang_file)
    for needle in (SECRET_TITLE, SECRET_NAME, SECRET_DESCRIPTION, "路灯不亮", "13800000000"):
        assert needle.encode() not in raw, f"{needle!r} stored in plain form"
    assert photo.read_bytes()[4:64] not in raw

    # The app's log saw the sync, but no case text, names or the password.
    text = "\n".join(m for _, m in log.lines)
    assert "sync round" in text
    for needle in (SECRET_TITLE, SECRET_NAME, PASSWORD, "路灯不亮"):
        assert needle not in text


def test_a_case_outside_the_workers_grid_is_refused_and_kept_as_rejected(ffi, server, tmp_path):
    # liu signed in on his phone while he covered the neighbouring grid ...
    server.add_user("liu", "grid_worker", OTHER_GRID)
    liu = open_store(tmp_path / "liu.db")
    assert liu.login(server.url, "liu", PASSWORD).scope == OTHER_GRID
    # ... then the county redrew the grids and moved him; his phone, offline, does not know yet.
    server.update_user("liu", "--scope", GRID)
    stale = liu.capture(
        new_case(ffi, kind="incident", jurisdiction=OTHER_GRID, category="road_damage", title="道路塌陷")
    )
    out = liu.sync(server.url, None)
    assert (out.accepted, out.rejected) == (0, 1)

    # Refused by the server, kept on the phone as rejected with the reason; nothing vanished.
    row = liu.list_cases(ffi.CaseFilterRecord(sync_state="rejected"))
    assert [c.id for c in row] == [stale]
    assert row[0].rejection.startswith("out_of_scope")
    detail = liu.get_case(stale)
    assert detail.title == "道路塌陷" and detail.sync_state == "rejected"
    assert [r.code for r in detail.rejections] == ["out_of_scope"]
    assert liu.pending_count() == 0
    assert server.get("/v1/cases", server.login("chen"))["total"] == 0

    # Signing in again teaches the phone its new grid; a case there syncs.
    assert liu.login(server.url, "liu", PASSWORD).scope == GRID
    liu.capture(new_case(ffi, kind="incident", jurisdiction=GRID, category="road_damage", title="桥面裂缝"))
    assert liu.sync(server.url, None).accepted == 1


def test_patrols_follow_the_shipped_checklist_and_get_no_deadline(ffi, server, tmp_path):
    store = open_store(tmp_path / "phone.db")
    store.login(server.url, "wang", PASSWORD)
    rules = store.rules()
    codes = [c.code for c in rules.categories if "patrol" in c.kinds]
    assert "patrol_routine" in codes and "dispute_neighbours" not in codes
    assert "patrol" in [k.code for k in rules.kinds]
    checklist = rules.patrol_checklist
    assert len(checklist) >= 5 and all(i.name_zh for i in checklist)
    patrol = store.capture(
        ffi.NewCaseRecord(kind="patrol", jurisdiction=GRID, category="patrol_routine", title="日常巡查")
    )
    for item in checklist:
        store.set_field(patrol, f"check.{item.code}", "ok")
    detail = store.get_case(patrol)
    assert detail.extra == {f"check.{i.code}": "ok" for i in checklist}
    assert detail.due_at_ms is None and not detail.overdue
    # A request gets its deadline to be answered (受理) on the phone, offline.
    request = store.capture(
        ffi.NewCaseRecord(kind="request", jurisdiction=GRID, category="water_supply", title="停水")
    )
    assert store.get_case(request).due_at_ms is not None
    assert store.sync(server.url, None).rejected == 0


def test_bad_keys_and_credentials_get_the_error_an_app_acts_on(ffi, server, tmp_path):
    path = tmp_path / "phone.db"
    with pytest.raises(ffi.FfiError.InvalidInput) as short:
        ffi.FieldStore.open(str(path), b"\x01" * 31)
    assert short.value.field == "encryption_key"

    key = secrets.token_bytes(32)
    store = ffi.FieldStore.open(str(path), key)
    device = store.device_id()
    del store
    with pytest.raises(ffi.FfiError.Storage):
        ffi.FieldStore.open(str(path), secrets.token_bytes(32))
    # The right key opens it again, as the same device.
    store = trusting(ffi.FieldStore.open(str(path), key))
    assert store.device_id() == device

    with pytest.raises(ffi.FfiError.Auth):
        store.login(server.url, "wang", "wrong password")
    assert store.signed_in() is None
    with pytest.raises(ffi.FfiError.InvalidInput) as nobody:
        store.capture(
            ffi.NewCaseRecord(kind="incident", jurisdiction=GRID, category="street_light", title="x")
        )
    assert nobody.value.field == "identity"
    with pytest.raises(ffi.FfiError.Auth):
        store.sync(server.url, None)

    # Signing in through `sync` with credentials, then refusing bad input with the field named.
    store.sync(server.url, ffi.CredentialsRecord(user="wang", password=PASSWORD))
    assert store.signed_in().user == "wang"
    with pytest.raises(ffi.FfiError.InvalidInput) as kind:
        store.capture(
            ffi.NewCaseRecord(kind="picnic", jurisdiction=GRID, category="street_light", title="x")
        )
    assert kind.value.field == "kind"
    case = store.capture(
        ffi.NewCaseRecord(kind="incident", jurisdiction=VILLAGE + "/01", category="street_light", title="x")
    )
    not_a_photo = tmp_path / "notes.txt"
    not_a_photo.write_text("just text")
    with pytest.raises(ffi.FfiError.InvalidInput) as attach:
        store.attach_photo(case, str(not_a_photo), "", None, None)
    assert attach.value.field == "attachment"
    with pytest.raises(ffi.FfiError.InvalidInput) as missing:
        store.attach_photo(case, str(tmp_path / "nope.jpg"), "", None, None)
    assert missing.value.field == "path"


def test_apps_that_own_their_networking_use_the_sans_io_pair(ffi, server, tmp_path):
    import urllib.request

    store = open_store(tmp_path / "phone.db")
    store.login(server.url, "wang", PASSWORD)
    case = store.capture(
        ffi.NewCaseRecord(kind="request", jurisdiction=GRID, category="water_supply", title="停水")
    )
    body = store.next_sync_request()
    assert body[:4] == b"GSYN"
    req = urllib.request.Request(
        server.url + "/v1/sync",
        data=bytes(body),
        headers={
            "Authorization": store.authorization_header(),
            "Content-Type": "application/x-gridsync",
        },
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        out = store.apply_sync_response(resp.read())
    assert (out.accepted, out.more) == (1, False)
    assert store.pending_count() == 0
    assert store.get_case(case).sync_state == "synced"
    with pytest.raises(ffi.FfiError.Network):
        store.apply_sync_response(b"not a response")


def test_apps_that_own_their_networking_drive_the_same_sync_step_by_step(ffi, server, tmp_path):
    """The app makes each request itself; the library says which, and what the reply means."""
    store = open_store(tmp_path / "phone.db")
    store.login(server.url, "wang", PASSWORD)
    case = store.capture(
        ffi.NewCaseRecord(kind="incident", jurisdiction=GRID, category="street_light", title="路灯不亮")
    )
    photo = tmp_path / "lamp.jpg"
    photo.write_bytes(camera_photo())
    store.attach_photo(case, str(photo), "现场照片", None, None)

    def http(method, path, body=None, headers=None):
        return app_request(server, store, method, path, body, headers)

    driver = store.begin_sync()
    kinds = []
    for _ in range(50):
        step = driver.next_step()
        if step.is_done():
            break
        if step.is_sync():
            kinds.append("sync")
            reply = http("POST", "/v1/sync", step.body, {"Content-Type": "application/x-gridsync"})
        elif step.is_probe_upload():
            kinds.append("probe")
            reply = http("HEAD", f"/v1/blobs/{step.sha256}")
        elif step.is_send_part():
            kinds.append("part")
            reply = http(
                "PUT",
                f"/v1/blobs/{step.sha256}",
                step.body,
                {
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"bytes {step.start}-{step.total - 1}/{step.total}",
                },
            )
        else:
            kinds.append("thumbnail")
            reply = http("GET", f"/v1/blobs/{step.sha256}?thumb=1")
        driver.answer(reply)
    # One round trip for the case, then the photo: probed, sent whole.
    assert kinds == ["sync", "probe", "part"]
    out = driver.outcome()
    # Two changes accepted: the capture and the photo's reference.
    assert (out.accepted, out.uploaded_attachments, out.pending_uploads) == (2, 1, 0)
    assert store.pending_count() == 0
    # Asked again after the end, it stays done; a reply nobody asked for is refused.
    assert driver.next_step().is_done()
    with pytest.raises(ffi.FfiError.InvalidInput):
        driver.answer(ffi.HttpReply(status=200, upload_offset=None, upload_complete=False, body=b""))
