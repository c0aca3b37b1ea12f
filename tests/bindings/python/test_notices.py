"""Notices (通知, issue 24) through the generated Python bindings against a real `gridsync serve`:
the township dispatches a grid worker's report to a department; the department handler's phones
receive a `dispatched` notice in the sync after it happens, through the built-in transport and
through an app-driven sync alike; reading it on the phone reaches the server with the next sync,
and the department account's console shows the unread count follow.
"""

import json
import re
import subprocess
import time

import pytest

from conftest import BIN, GRID, PASSWORD, app_request, open_store

DEPT = "fire"
TITLE = "加油站旁违规堆放易燃杂物"


def add_handler(server, user, department):
    subprocess.run(
        [BIN, "user", "add", user, "--role", "department_handler", "--scope", "130322",
         "--department", department],
        env=server.env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def phone(server, tmp_path, user, name=None):
    store = open_store(tmp_path / f"{name or user}.db")
    store.login(server.url, user, PASSWORD)
    return store


def unread_on_console(server, cookie):
    """The unread count the console's notices page shows to the signed-in account."""
    status, page = server.console_get("/console/notices", cookie)
    assert status == 200, (status, page[:300])
    found = re.search(r'id="unread-count"[^>]*>\s*(\d+)\s*<', page)
    assert found, "the notices page shows its unread count in #unread-count"
    return int(found.group(1))


def driven_sync(ffi, server, store):
    """A sync made by the app's own networking, through `SyncDriver`."""

    def http(method, path, body=None, headers=None):
        return app_request(server, store, method, path, body, headers)

    driver = store.begin_sync()
    for _ in range(50):
        step = driver.next_step()
        if step.is_done():
            return driver.outcome()
        if step.is_sync():
            reply = http("POST", "/v1/sync", step.body, {"Content-Type": "application/x-gridsync"})
        elif step.is_fetch_thumbnail():
            reply = http("GET", f"/v1/blobs/{step.sha256}?thumb=1")
        else:
            raise AssertionError(f"a department phone has nothing to upload: {step}")
        driver.answer(reply)
    raise AssertionError("the driven sync did not finish")


def test_a_department_phone_receives_its_dispatch_notice_and_the_console_follows_its_reading(
    ffi, server, tmp_path
):
    add_handler(server, "dept.fire", DEPT)
    add_handler(server, "dept.water", "water")
    wang = phone(server, tmp_path, "wang")
    chen = phone(server, tmp_path, "chen")
    fire = phone(server, tmp_path, "dept.fire")
    # The same account's second phone, whose app owns its networking.
    fire_tablet = phone(server, tmp_path, "dept.fire", "dept.fire.tablet")
    water = phone(server, tmp_path, "dept.water")
    for store in (fire, fire_tablet, water):
        first = store.sync(server.url, None)
        assert first.notices == 0
        assert store.notices() == [] and store.unread_notices() == 0
    cookie = server.console_login("dept.fire")
    assert unread_on_console(server, cookie) == 0

    case = wang.capture(
        ffi.NewCaseRecord(kind="incident", jurisdiction=GRID, category="fire_hazard", title=TITLE)
    )
    assert wang.sync(server.url, None).rejected == 0
    chen.sync(server.url, None)
    chen.append_event(case, ffi.EventKind.ACCEPTED(), "受理")
    chen.append_event(case, ffi.EventKind.ASSIGNED(department=DEPT), "请消防部门处置")
    assert chen.sync(server.url, None).rejected == 0

    # The next sync of the department's phone brings the case and its notice.
    outcome = fire.sync(server.url, None)
    assert outcome.notices >= 1
    dispatched = [n for n in fire.notices() if n.case_id == case and n.kind == "dispatched"]
    assert len(dispatched) == 1, fire.notices()
    notice = dispatched[0]
    assert notice.kind_zh == "转办"
    assert not notice.read and not notice.urgent
    assert TITLE[:8] in notice.text
    assert notice.at_ms > 0
    assert fire.unread_notices() == len([n for n in fire.notices() if not n.read]) >= 1
    assert fire.get_case(case).department == DEPT
    # A department not dispatched to hears nothing of it.
    water.sync(server.url, None)
    assert [n for n in water.notices() if n.case_id == case] == []
    # The account's other phone receives it too, in an app-driven sync.
    driven = driven_sync(ffi, server, fire_tablet)
    assert driven.notices >= 1
    assert [n.id for n in fire_tablet.notices() if n.case_id == case] == [notice.id]
    # Before reading, the console counts it.
    unread_before = unread_on_console(server, cookie)
    assert unread_before >= 1

    # Read on the phone: at once here, and the server hears at the next sync.
    with pytest.raises(ffi.FfiError.InvalidInput):
        fire.mark_notice_read(notice.id + 10_000)
    for other in fire.notices():
        fire.mark_notice_read(other.id)
    assert fire.unread_notices() == 0
    assert all(n.read for n in fire.notices())
    fire.mark_notice_read(notice.id)  # twice is harmless
    assert unread_on_console(server, cookie) == unread_before, "not synced yet"
    again = fire.sync(server.url, None)
    assert again.notices == 0, "a notice held is not sent again"
    assert unread_on_console(server, cookie) == 0
    assert fire.unread_notices() == 0 and len(fire.notices()) >= 1


def set_sms(server, user, *args):
    return subprocess.run(
        [BIN, "user", "sms", user, *args],
        env=server.env,
        capture_output=True,
        text=True,
    )


def test_sms_goes_to_numbers_that_did_not_opt_out_and_county_admins_see_it_masked(
    ffi, sms_server, gateway, tmp_path
):
    server = sms_server
    add_handler(server, "dept.fire", DEPT)
    add_handler(server, "dept.fire2", DEPT)
    server.add_user("liu", "county_admin", "130322")
    assert set_sms(server, "dept.fire", "--phone", "13800000003").returncode == 0
    assert set_sms(server, "dept.fire2", "--phone", "13800000004").returncode == 0
    bad = set_sms(server, "dept.fire", "--phone", "138-abcd")
    assert bad.returncode != 0 and "bad_phone" in bad.stderr
    # dept.fire2 opts out on the console; its notices still reach the app.
    cookie2 = server.console_login("dept.fire2")
    status, _ = server.console_post("/console/notices/sms", {"on": "0"}, cookie2)
    assert status in (302, 303), status
    assert "opted out" in set_sms(server, "dept.fire2").stdout

    wang = phone(server, tmp_path, "wang")
    chen = phone(server, tmp_path, "chen")
    case = wang.capture(
        ffi.NewCaseRecord(kind="incident", jurisdiction=GRID, category="fire_hazard", title=TITLE)
    )
    assert wang.sync(server.url, None).rejected == 0
    chen.sync(server.url, None)
    chen.append_event(case, ffi.EventKind.ACCEPTED(), "受理")
    chen.append_event(case, ffi.EventKind.ASSIGNED(department=DEPT), "请消防部门处置")
    assert chen.sync(server.url, None).rejected == 0

    # The delivery loop polls every 2 s by default.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not gateway.received:
        time.sleep(0.2)
    time.sleep(2.5)  # one more round: nothing else may come
    sent = [json.loads(b) for b in gateway.received]
    assert [s["to"] for s in sent] == ["13800000003"], sent
    assert TITLE[:8] in sent[0]["text"] and sent[0]["text"].startswith("【转办】")
    assert sent[0]["id"]
    # Both handlers have the notice in the app.
    for user in ("dept.fire", "dept.fire2"):
        store = phone(server, tmp_path, user)
        store.sync(server.url, None)
        assert [n.kind for n in store.notices() if n.case_id == case] == ["dispatched"]

    # Delivery state: county admins only, numbers masked.
    status, page = server.console_get("/console/sms", server.console_login("chen"))
    assert status == 403
    status, page = server.console_get("/console/sms", server.console_login("liu"))
    assert status == 200
    assert "138****0003" in page and "13800000003" not in page
    assert 'data-state="sent"' in page
    assert "13800000004" not in page and "138****0004" not in page
