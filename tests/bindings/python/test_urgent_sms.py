"""短信应急上报 (issue 24) through the generated Python bindings against a real `gridsync serve`:
a grid worker's phone with no data link turns an urgent case into at most two SMS texts; the
test posts them to the inbound route as the county's gateway would; the case is on the server
and the township staff's console within the same second, marked as reported by SMS; the phone
then syncs the full case with its photo and the server holds one case with both histories.
Altered, forged, replayed or unauthenticated messages are refused.
"""

import base64
import hashlib
import io
import json
import secrets
import time

import pytest
from PIL import Image

from conftest import GRID, INBOUND_TOKEN, PASSWORD, open_store

SENDER = "+8613800000001"
# Longer than part B of an SMS can carry (about 58 characters of Chinese).
LONG_TITLE = (
    "村东头粮库后墙电线老化起火冒烟，火势正在向相邻的柴草堆和三户村民住房蔓延，"
    "现场已有群众自发用水桶扑救但无法控制，急需消防和电力部门立即到场处置并疏散周边群众"
)
DESCRIPTION = "起火点在粮库西北角配电箱附近，现场无人员被困，已通知村委会组织疏散。"


def device_tag(device_id: str) -> str:
    """A device's 8-character name in an SMS: the first 6 bytes of SHA-256, base64url."""
    digest = hashlib.sha256(device_id.encode()).digest()[:6]
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sms_limit(text: str) -> int:
    """One SMS: 160 GSM characters, or 70 UCS-2 units once any character is not ASCII."""
    return 160 if text.isascii() else 70


def ucs2_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def camera_photo(path):
    img = Image.frombytes("RGB", (128, 128), secrets.token_bytes(128 * 128 * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=90)
    path.write_bytes(out.getvalue())
    return path


def post_sms(server, text, token=INBOUND_TOKEN, sender=SENDER):
    """As the gateway delivers one inbound SMS: (status, JSON body)."""
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    status, body = server.request(
        "POST", "/v1/sms/inbound", {"from": sender, "text": text}, headers
    )
    try:
        return status, json.loads(body)
    except ValueError:
        return status, {"raw": body.decode("utf-8", "replace")}


def assert_refused(answer, status, code):
    assert answer[0] == status, answer
    assert answer[1].get("code") == code, answer
    assert answer[1].get("message"), answer


def with_title_char_changed(text: str, prefix_fields: int) -> str:
    """The text with one character of its title (after `prefix_fields` space-separated fields)
    replaced by another of the same kind, so it still parses: only the MAC can tell."""
    parts = text.split(" ", prefix_fields)
    title = parts[prefix_fields]
    i = 1 if len(title) > 1 else 0
    c = title[i]
    if c.isascii():
        new = "X" if c != "X" else "Y"
    else:
        new = "水" if c != "水" else "火"
    parts[prefix_fields] = title[:i] + new + title[i + 1:]
    return " ".join(parts)


def with_tag(text: str, tag: str) -> str:
    """The text claiming to come from another device: the tag is the first field after
    `GS`/`GA`."""
    head, _old, rest = text.split(" ", 2)
    return f"{head} {tag} {rest}"


def phone(server, tmp_path, user):
    """A phone that was online once: signed in (the device is bound and holds its secret) and
    synced."""
    store = open_store(tmp_path / f"{user}.db")
    store.login(server.url, user, PASSWORD)
    store.sync(server.url, None)
    return store


def case_ids(server, token):
    return [row["id"] for row in server.get("/v1/cases?per_page=200", token)["items"]]


def test_an_urgent_case_goes_by_sms_then_merges_with_its_full_sync(
    ffi, sms_server, tmp_path
):
    server = sms_server
    wang = phone(server, tmp_path, "wang")
    chen = phone(server, tmp_path, "chen")
    # The reviewers are signed in before the SMS arrives, as they would be at their desks.
    token = server.login("chen")
    cookie = server.console_login("chen")

    # No data link from here on: wang captures, photographs and reports by SMS.
    case = wang.capture(
        ffi.NewCaseRecord(
            kind="incident",
            jurisdiction=GRID,
            category="fire_hazard",
            title=LONG_TITLE,
            description=DESCRIPTION,
            address="村东头粮库",
            lat=39.912345,
            lon=116.398765,
        )
    )
    photo = camera_photo(tmp_path / "fire.jpg")
    attached = wang.attach_photo(case, str(photo), "起火点", 39.912345, 116.398765)
    texts = wang.urgent_sms(case)
    assert len(texts) == 2, texts
    assert texts[0].startswith("GA ") and texts[1].startswith("GB ")
    for t in texts:
        assert len(t) <= sms_limit(t), (len(t), t)
        assert ucs2_units(t) <= sms_limit(t), t
    assert texts[0].isascii(), "part A is plain GSM text"
    sms_title = texts[1].split(" ", 2)[2]
    assert LONG_TITLE.startswith(sms_title) and len(sms_title) < len(LONG_TITLE)
    # Asking again (the first send failed) gives the same texts.
    assert wang.urgent_sms(case) == texts
    # The phone still holds the whole case, unsent, marked as reported by SMS.
    held = wang.get_case(case)
    assert held.title == LONG_TITLE and held.description == DESCRIPTION
    assert [a.sha256 for a in held.attachments] == [attached.sha256]
    assert [e.kind for e in held.events] == ["reported"]
    assert held.extra.get("reported_by") == "sms"
    assert held.sync_state != "synced"

    # The gateway must present the county's inbound token.
    assert_refused(post_sms(server, texts[0], token="gw-wrong"), 401, "sms_unauthorized")
    assert_refused(post_sms(server, texts[0], token=None), 401, "sms_unauthorized")
    # A part B whose title was altered: the MAC over part A and the whole title fails.
    assert post_sms(server, texts[0]) == (202, {"status": "held"})
    assert_refused(post_sms(server, with_title_char_changed(texts[1], 2)), 403, "sms_forged")
    bearer = {"Authorization": f"Bearer {token}"}
    assert server.request("GET", f"/v1/cases/{case}", headers=bearer)[0] == 404, "nothing opened"

    # The genuine pair, as the gateway hands it over (part A again: gateways redeliver).
    started = time.monotonic()
    assert post_sms(server, texts[0]) == (202, {"status": "held"})
    opened = post_sms(server, texts[1])
    assert opened == (201, {"status": "opened", "case_id": case}), opened
    on_server = server.get(f"/v1/cases/{case}", token)
    status, page = server.console_get(f"/console/cases/{case}", cookie)
    status_list, listing = server.console_get("/console/cases", cookie)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, f"the case reached the township after {elapsed:.2f} s"
    assert on_server["case"]["extra"].get("reported_by") == "sms"
    assert on_server["case"]["title"] == sms_title
    assert on_server["case"]["category"] == "fire_hazard"
    assert on_server["case"]["jurisdiction"] == GRID
    assert on_server["case"]["reporter"]["user"] == "wang"
    assert [e["kind"] for e in on_server["case"]["events"]] == ["reported"]
    assert on_server["workflow"]["status"] == "reported"
    assert status == 200 and sms_title[:10] in page
    assert "短信上报" in page, "the case page marks a case reported by SMS"
    assert status_list == 200 and sms_title[:10] in listing

    # The same SMS again once the case is open: a replay.
    first, last = post_sms(server, texts[0]), post_sms(server, texts[1])
    assert first[0] in (202, 409), first
    assert_refused(last, 409, "sms_replayed")

    # The township's phone hears of it as an urgent notice at its next sync.
    outcome = chen.sync(server.url, None)
    assert outcome.notices >= 1
    urgent = [n for n in chen.notices() if n.case_id == case]
    assert [n.kind for n in urgent] == ["urgent_report"]
    assert urgent[0].urgent and not urgent[0].read and urgent[0].kind_zh == "紧急上报"

    # The data link is back: the phone syncs the full case with its photo.
    synced = wang.sync(server.url, None)
    assert synced.rejected == 0
    assert (synced.uploaded_attachments, synced.pending_uploads) == (1, 0)
    mine = wang.get_case(case)
    assert mine.rejections == []
    assert mine.sync_state == "synced"
    assert mine.title == LONG_TITLE
    assert [e.kind for e in mine.events].count("reported") == 1

    # One case on the server, with the full title, the description, the photo, one report.
    assert case_ids(server, token).count(case) == 1
    full = server.get(f"/v1/cases/{case}", token)
    assert full["case"]["title"] == LONG_TITLE
    assert full["case"]["description"] == DESCRIPTION
    assert full["case"]["extra"].get("reported_by") == "sms"
    assert [a["sha256"] for a in full["case"]["attachments"]] == [attached.sha256]
    assert [e["kind"] for e in full["case"]["events"]].count("reported") == 1
    assert full["conflicts"] == []
    # Both histories: the change the SMS opened (wang's device's, first) and the phone's own.
    history = sorted(full["history"], key=lambda h: h["seq"])
    assert history[0]["device"] == wang.device_id() and history[0]["user"] == "wang"
    assert sum(h["device"] == wang.device_id() for h in history) >= 2
    status, blob = server.request("GET", f"/v1/blobs/{attached.sha256}", headers=bearer)
    assert status == 200 and len(blob) > 0
    # A replay after the merge is still refused, and the phones agree with the server.
    assert_refused(post_sms(server, texts[1]), 409, "sms_replayed")
    chen.sync(server.url, None)
    assert chen.get_case(case).title == LONG_TITLE
    assert [e.id for e in chen.get_case(case).events] == [e.id for e in wang.get_case(case).events]


def test_forged_altered_malformed_and_replayed_sms_are_refused(ffi, sms_server, tmp_path):
    server = sms_server
    server.add_user("sun", "grid_worker", GRID)
    wang = phone(server, tmp_path, "wang")
    sun = phone(server, tmp_path, "sun")
    token = server.login("chen")

    # A short ASCII title fits one GSM SMS.
    case = wang.capture(
        ffi.NewCaseRecord(
            kind="incident", jurisdiction=GRID, category="fire_hazard", title="Smoke at grain store"
        )
    )
    texts = wang.urgent_sms(case)
    assert len(texts) == 1, texts
    text = texts[0]
    assert text.startswith("GS ") and text.isascii() and len(text) <= 160
    assert text.endswith(" Smoke at grain store")
    assert text.split(" ", 2)[1] == device_tag(wang.device_id())

    # One character of the title changed: it still parses, the MAC does not match.
    assert_refused(post_sms(server, with_title_char_changed(text, 11)), 403, "sms_forged")
    # The same text claiming another bound device (sun's phone): its key does not match.
    assert_refused(post_sms(server, with_tag(text, device_tag(sun.device_id()))), 403, "sms_forged")
    # A device the server never bound.
    assert_refused(post_sms(server, with_tag(text, device_tag("phone-unknown"))), 403, "sms_forged")
    # Not a report at all, and a report cut short.
    assert_refused(post_sms(server, "你好，请问几点开会"), 400, "sms_malformed")
    assert_refused(post_sms(server, " ".join(text.split(" ")[:5])), 400, "sms_malformed")
    # The wrong gateway.
    assert_refused(post_sms(server, text, token="gw-secret"), 401, "sms_unauthorized")
    # Nothing was opened by any of these.
    assert case not in case_ids(server, token)

    opened = post_sms(server, text)
    assert opened == (201, {"status": "opened", "case_id": case}), opened
    assert_refused(post_sms(server, text), 409, "sms_replayed")
    assert case_ids(server, token).count(case) == 1

    # The phone library refuses what cannot go by SMS.
    moved = wang.capture(
        ffi.NewCaseRecord(
            kind="incident", jurisdiction=GRID, category="fire_hazard", title="Fence down"
        )
    )
    wang.append_event(moved, ffi.EventKind.ACCEPTED(), "")
    with pytest.raises(ffi.FfiError.Sms) as refused:
        wang.urgent_sms(moved)
    assert refused.value.code == "sms_not_sendable"
    assert wang.sync(server.url, None).rejected == 0
    with pytest.raises(ffi.FfiError.Sms) as synced:
        wang.urgent_sms(moved)
    assert synced.value.code == "sms_not_sendable"
    # Someone else's case on this phone is not this device's to report.
    sun.sync(server.url, None)
    assert case in {c.id for c in sun.list_cases(ffi.CaseFilterRecord())}
    with pytest.raises(ffi.FfiError.Sms) as theirs:
        sun.urgent_sms(case)
    assert theirs.value.code == "sms_not_sendable"


def test_without_sms_settings_the_inbound_route_is_off(server):
    assert_refused(post_sms(server, "GS whatever"), 503, "sms_disabled")
