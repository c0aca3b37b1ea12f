"""The front door and the way back (issue 22, "Done means", first bullet), in a real browser
against `gridsync serve --demo`, with a grid worker's phone played by the Python bindings.

The walk: the township clerk ts.100 registers a walk-in request (登记) for the grid of
gw.10020101 and sends it down to that grid (研判分流); the grid worker's phone syncs and holds it
as a task to verify (待核实); offline, the worker verifies (核实, `accepted`) and resolves it with
a reply (答复), then syncs; the requester opens /track at 375×812 with the receipt number and
code, sees it resolved and the reply — never a name, a phone number, an account or an internal
note — and rates it 不满意; the case is reopened to its handler (办理中, still the grid worker's).
Screenshots of the filled form, the receipt and the phone-sized page are kept. A village
mediator, who may read the request but does not handle it, sees the phone number masked on the
console, through the API and on their own phone.
"""

import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request

from conftest import absent, click_and_wait, login, new_browser, screenshot
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

CLERK = "ts.100"
GRID_WORKER = "gw.10020101"
MEDIATOR = "med.100201"
REQUESTER_NAME = "赵桂兰"
REQUESTER_PHONE = "13812345678"
MASKED_PHONE = "138****5678"
MASKED_NAME = "赵**"
# What a phone shows of a value sealed under a key it does not hold (case::sealed::LOCKED_TEXT).
LOCKED = "（加密）"
CATEGORY = "street_light"
TITLE = "东街路口路灯不亮"
DESCRIPTION = "东街与幸福路路口的两盏路灯连续三晚不亮，老人晚上出门不便。"
ADDRESS = "东街与幸福路路口"
# Written by the grid worker when verifying: an internal note the requester must never read.
INTERNAL_NOTE = "内部备注：灯杆线路被挖断，施工方是老孙家的侄子"
REPLY = "您反映的路灯问题已修复，两盏路灯已恢复照明。感谢您的监督！"
RESOLVE_NOTE = "电工已更换线路"
COMMENT = "只修好了一盏，另一盏还是不亮"
PHONE_SIZE = (375, 812)


# --- helpers ---


def set_text(browser, element_id: str, value: str):
    el = browser.find_element(By.ID, element_id)
    el.clear()
    el.send_keys(value)


def select_value(browser, element_id: str, value: str):
    el = Select(browser.find_element(By.ID, element_id))
    values = [o.get_attribute("value") for o in el.options]
    assert value in values, f"#{element_id} offers no {value!r}: {values}"
    el.select_by_value(value)
    assert el.first_selected_option.get_attribute("value") == value


def case_id_of(href: str) -> str:
    path = urllib.parse.urlsplit(href).path
    assert path.startswith("/console/cases/"), href
    return path.rsplit("/", 1)[1]


def page_html(browser) -> str:
    return browser.execute_script("return document.documentElement.outerHTML")


def api_login(demo, user: str) -> str:
    """Signs in over the API as a new device of `user`; returns the access token."""
    body = {
        "user": user,
        "password": demo.password(user),
        "device": f"front-door-test-{secrets.token_hex(4)}",
        "actor": secrets.token_hex(16),
    }
    req = urllib.request.Request(
        demo.url + "/v1/auth/login",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.load(resp)["access_token"]


def api_case(demo, token: str, case_id: str):
    """`GET /v1/cases/{id}`: (status, JSON body)."""
    req = urllib.request.Request(
        f"{demo.url}/v1/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")


def requester_of(people) -> dict:
    """The requester among a case's people (API JSON)."""
    found = [p for p in people if p.get("role") == "requester"]
    assert len(found) == 1, f"not one requester among {people}"
    return found[0]


def sync_fully(phone, url: str):
    """Syncs until the server has nothing more; returns the outcomes."""
    outcomes = [phone.sync(url, None)]
    while outcomes[-1].more and len(outcomes) < 20:
        outcomes.append(phone.sync(url, None))
    return outcomes


def phone_sized(browser, size):
    """Sizes the window so that the page itself (the viewport) is `size`, as on a phone: the
    window's frame takes some of the window's size even when headless."""
    browser.set_window_size(*size)
    browser.get("about:blank")
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    browser.set_window_size(size[0] + size[0] - inner[0], size[1] + size[1] - inner[1])
    inner = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    assert tuple(inner) == size, f"the viewport is {inner}, not {size}"


def track(browser, url: str, receipt: str, code: str):
    """Opens /track without signing in and looks up `receipt` with `code`."""
    browser.get(url + "/track")
    form = browser.find_element(By.CSS_SELECTOR, "form#track-form")
    assert form.is_displayed()
    set_text(browser, "track-receipt", receipt)
    set_text(browser, "track-code", code)
    click_and_wait(browser, browser.find_element(By.ID, "track-submit"))


def test_walk_in_request_reaches_the_grid_and_comes_back_to_the_requester(demo, browser, tmp_path):
    import gridsync_ffi as ffi

    grid = demo.accounts[GRID_WORKER].scope
    assert grid.count("/") == 3, f"{GRID_WORKER}'s scope {grid} is not a grid"
    worker_name = demo.accounts[GRID_WORKER].name.split()[-1]

    # (1) The clerk registers a walk-in request at the counter and sends it down to the grid.
    login(browser, demo.url, CLERK, demo.password(CLERK))
    browser.get(demo.url + "/console/register")
    body = browser.find_element(By.TAG_NAME, "body").text[:500]
    assert not absent(browser, By.CSS_SELECTOR, "form#register-form"), (
        f"no form#register-form on /console/register: {body}"
    )
    select_value(browser, "r-source", "walk_in")
    set_text(browser, "r-name", REQUESTER_NAME)
    set_text(browser, "r-phone", REQUESTER_PHONE)
    select_value(browser, "r-area", grid)
    set_text(browser, "r-address", ADDRESS)
    select_value(browser, "r-kind", "request")
    select_value(browser, "r-category", CATEGORY)
    set_text(browser, "r-title", TITLE)
    set_text(browser, "r-description", DESCRIPTION)
    triage = browser.find_element(
        By.CSS_SELECTOR, 'input[type="radio"][name="triage"][value="grid"]'
    )
    triage.click()
    assert triage.is_selected()
    screenshot(browser, "register-1400x1000.png")
    click_and_wait(browser, browser.find_element(By.ID, "r-submit"))
    if not absent(browser, By.ID, "register-error"):
        err = browser.find_element(By.ID, "register-error")
        raise AssertionError(
            f"registering refused: {err.get_attribute('data-code')}: {err.text}"
        )
    receipt = browser.find_element(By.ID, "receipt-no").text.strip()
    code = browser.find_element(By.ID, "receipt-code").text.strip()
    assert receipt.isdigit() and len(receipt) >= 8, f"#receipt-no reads {receipt!r}"
    assert code.isdigit() and len(code) >= 4, f"#receipt-code reads {code!r}"
    case_link = browser.find_element(By.CSS_SELECTOR, "a#receipt-case")
    case_id = case_id_of(case_link.get_attribute("href"))
    screenshot(browser, "receipt-1400x1000.png")

    # The case page shows where it came from, its receipt and the requester in full (the
    # township handles it).
    click_and_wait(browser, browser.find_element(By.CSS_SELECTOR, "a#receipt-case"))
    assert case_id_of(browser.current_url) == case_id
    assert browser.find_element(By.ID, "case-title").text == TITLE
    source = browser.find_element(By.ID, "case-source")
    assert (source.text.strip(), source.get_attribute("data-code")) == ("来访登记", "walk_in")
    assert receipt in browser.find_element(By.ID, "case-receipt").text
    requester = browser.find_element(By.ID, "case-requester").text
    assert REQUESTER_NAME in requester and REQUESTER_PHONE in requester, requester
    # The code is handed to the requester only: the case page never shows it again.
    assert code not in browser.find_element(By.ID, "case-receipt").text

    clerk_token = api_login(demo, CLERK)
    status, detail = api_case(demo, clerk_token, case_id)
    assert status == 200, detail
    wf, case = detail["workflow"], detail["case"]
    assert case["source"] == "walk_in"
    assert case["reporter"]["user"] == CLERK, "registered in someone else's name"
    assert case["jurisdiction"] == grid and case["kind"] == "request"
    assert case["category"] == CATEGORY
    assert (wf["status"], wf["level"], wf["owner"]) == ("reported", "grid", None), (
        "not sent down to the grid to verify (待核实)",
        wf,
    )
    assert [e["kind"] for e in case["events"]] == ["reported", "routed"], case["events"]
    asked = requester_of(case["people"])
    assert (asked["name"], asked["phone"]) == (REQUESTER_NAME, REQUESTER_PHONE), asked

    # (2) The grid worker's phone (a fresh install) syncs and holds it as a task to verify,
    # with the requester's phone number in full: the worker calls them.
    phone = ffi.FieldStore.open(str(tmp_path / "gw.db"), os.urandom(32))
    signed = phone.login(demo.url, GRID_WORKER, demo.password(GRID_WORKER))
    assert (signed.role, signed.scope) == ("grid_worker", grid)
    sync_fully(phone, demo.url)
    tasks = {t.id: t for t in phone.list_cases(ffi.CaseFilterRecord(tasks_only=True))}
    assert case_id in tasks, "the registered case is not among the phone's tasks (待核实)"
    task = tasks[case_id]
    assert (task.source, task.awaiting_verification, task.status) == ("walk_in", True, "reported")
    held = phone.get_case(case_id)
    assert (held.status, held.level, held.owner) == ("reported", "grid", None)
    assert (held.source, held.awaiting_verification, held.reply) == ("walk_in", True, None)
    assert held.kind == "request" and held.jurisdiction == grid and held.title == TITLE
    assert held.sync_state == "synced"
    assert [e.kind for e in held.events] == ["reported", "routed"], [e.kind for e in held.events]
    routed = held.events[-1]
    assert (routed.by, routed.level) == (CLERK, "grid")
    people = [(p.role, p.name, p.phone) for p in held.people]
    assert ("requester", REQUESTER_NAME, REQUESTER_PHONE) in people, people

    # (3) Offline: the worker verifies (核实) and resolves with the reply; then syncs.
    phone.append_event(case_id, ffi.EventKind.ACCEPTED(), INTERNAL_NOTE)
    verified = phone.get_case(case_id)
    assert (verified.status, verified.owner, verified.level) == ("accepted", GRID_WORKER, "grid")
    assert not verified.awaiting_verification
    assert case_id not in [t.id for t in phone.list_cases(ffi.CaseFilterRecord(tasks_only=True))]
    phone.append_event(case_id, ffi.EventKind.RESOLVED_WITH_REPLY(reply=REPLY), RESOLVE_NOTE)
    local = phone.get_case(case_id)
    assert (local.status, local.owner, local.reply) == ("resolved", GRID_WORKER, REPLY)
    resolved = local.events[-1]
    assert (resolved.kind, resolved.reply, resolved.note) == ("resolved", REPLY, RESOLVE_NOTE)
    assert local.sync_state == "pending"
    assert phone.pending_count() == 1
    outcomes = sync_fully(phone, demo.url)
    assert outcomes[0].accepted >= 1 and sum(o.rejected for o in outcomes) == 0, [
        (o.accepted, o.rejected) for o in outcomes
    ]
    assert phone.pending_count() == 0
    assert phone.get_case(case_id).rejections == []

    status, detail = api_case(demo, clerk_token, case_id)
    assert status == 200, detail
    wf = detail["workflow"]
    assert (wf["status"], wf["owner"], wf["level"]) == ("resolved", GRID_WORKER, "grid"), wf
    assert wf["reply"] == REPLY, wf

    # (4) The requester, on a phone, without signing in.
    requester = new_browser()
    try:
        phone_sized(requester, PHONE_SIZE)
        track(requester, demo.url, receipt, code)
        if not absent(requester, By.ID, "track-error"):
            err = requester.find_element(By.ID, "track-error")
            raise AssertionError(
                "/track refused the right receipt and code: "
                f"{err.get_attribute('data-code')}: {err.text}"
            )
        stage = requester.find_element(By.ID, "track-stage").text
        assert "已办结" in stage, f"#track-stage reads {stage!r}"
        steps = requester.find_elements(By.CSS_SELECTOR, "ol#track-steps > li")
        assert len(steps) >= 3, [s.text for s in steps]
        steps_text = requester.find_element(By.ID, "track-steps").text
        assert "已办结" in steps_text, steps_text
        shown_reply = requester.find_element(By.ID, "track-reply").text
        assert REPLY in shown_reply, f"#track-reply reads {shown_reply!r}"
        # Phone-sized: nothing wider than the screen.
        width = requester.execute_script("return document.documentElement.scrollWidth")
        viewport = requester.execute_script("return window.innerWidth")
        assert width <= viewport, f"/track is {width}px wide on a {viewport}px screen"
        screenshot(requester, "track-375x812.png")
        html = page_html(requester)
        for private, what in [
            (REQUESTER_NAME, "the requester's name"),
            (REQUESTER_PHONE, "the requester's phone"),
            (MASKED_PHONE, "the requester's masked phone"),
            (MASKED_NAME, "the requester's masked name"),
            (GRID_WORKER, "the grid worker's account"),
            (worker_name, "the grid worker's name"),
            (CLERK, "the clerk's account"),
            (INTERNAL_NOTE, "the internal note"),
            (RESOLVE_NOTE, "the resolution's note"),
            (case_id, "the case id"),
        ]:
            assert private not in html, f"/track shows {what} ({private!r})"

        # Rates it 不满意 with a comment.
        assert not absent(requester, By.CSS_SELECTOR, "form#rate-form"), "no form#rate-form"
        unsatisfied = requester.find_element(By.ID, "rate-unsatisfied")
        unsatisfied.click()
        assert unsatisfied.is_selected()
        set_text(requester, "rate-comment", COMMENT)
        click_and_wait(requester, requester.find_element(By.ID, "rate-submit"))
        if not absent(requester, By.ID, "track-error"):
            err = requester.find_element(By.ID, "track-error")
            raise AssertionError(f"rating refused: {err.get_attribute('data-code')}: {err.text}")
        assert not absent(requester, By.ID, "track-rated"), "no #track-rated after rating"
        assert absent(requester, By.CSS_SELECTOR, "form#rate-form"), "asked to rate again"
        html = page_html(requester)
        for private in (REQUESTER_NAME, REQUESTER_PHONE, GRID_WORKER, INTERNAL_NOTE):
            assert private not in html, f"/track after rating shows {private!r}"

        # A wrong code opens nothing, and says so by the same code as an unknown receipt.
        wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
        track(requester, demo.url, receipt, wrong)
        err = requester.find_element(By.CSS_SELECTOR, "#track-error[data-code]")
        assert err.get_attribute("data-code") == "not_found", err.get_attribute("data-code")
        assert absent(requester, By.ID, "track-stage")
        assert TITLE not in page_html(requester)
    finally:
        requester.quit()

    # (5) Reopened to its handler: 办理中, still the grid worker's; the rating is the requester's.
    status, detail = api_case(demo, clerk_token, case_id)
    assert status == 200, detail
    wf = detail["workflow"]
    assert (wf["status"], wf["owner"]) == ("in_progress", GRID_WORKER), wf
    assert wf["rating"] == "unsatisfied" and wf["rating_by_requester"] is True, wf
    assert wf["reopen_count"] == 1, wf
    evaluated = [e for e in detail["case"]["events"] if e["kind"] == "evaluated"]
    assert len(evaluated) == 1, evaluated
    assert evaluated[0]["rating"] == "unsatisfied" and evaluated[0]["role"] == "system"
    assert COMMENT in evaluated[0]["note"], evaluated[0]
    browser.get(f"{demo.url}/console/cases/{case_id}")
    assert browser.find_element(By.ID, "case-status").text == "办理中"
    rating = browser.find_element(By.ID, "case-rating")
    assert rating.get_attribute("data-by") == "requester", rating.get_attribute("data-by")
    assert "不满意" in rating.text, rating.text
    assert COMMENT in browser.find_element(By.ID, "timeline").text
    # The reply given stays on record while the case is handled again.
    assert REPLY in browser.find_element(By.ID, "case-reply").text

    sync_fully(phone, demo.url)
    back = phone.get_case(case_id)
    assert (back.status, back.owner, back.level) == ("in_progress", GRID_WORKER, "grid")
    last = back.events[-1]
    assert (last.kind, last.rating, last.role) == ("evaluated", "unsatisfied", "system")
    assert COMMENT in last.note
    assert back.reply == REPLY and not back.awaiting_verification
    handling = phone.list_cases(ffi.CaseFilterRecord(status="in_progress"))
    assert case_id in [c.id for c in handling], "the reopened case is not in the worker's list"

    # A village mediator may read the request but does not handle it: name and phone masked,
    # through the API, on the console and on their own phone.
    med_token = api_login(demo, MEDIATOR)
    status, detail = api_case(demo, med_token, case_id)
    assert status == 200, (status, detail)
    seen = requester_of(detail["case"]["people"])
    assert (seen["name"], seen["phone"]) == (MASKED_NAME, MASKED_PHONE), seen
    as_json = json.dumps(detail, ensure_ascii=False)
    assert REQUESTER_PHONE not in as_json and REQUESTER_NAME not in as_json
    mediator = new_browser()
    try:
        login(mediator, demo.url, MEDIATOR, demo.password(MEDIATOR))
        mediator.get(f"{demo.url}/console/cases/{case_id}")
        assert mediator.find_element(By.ID, "case-title").text == TITLE
        shown = mediator.find_element(By.ID, "case-requester").text
        assert MASKED_PHONE in shown and MASKED_NAME in shown, shown
        html = page_html(mediator)
        assert REQUESTER_PHONE not in html and REQUESTER_NAME not in html
    finally:
        mediator.quit()
    med_phone = ffi.FieldStore.open(str(tmp_path / "med.db"), os.urandom(32))
    med_phone.login(demo.url, MEDIATOR, demo.password(MEDIATOR))
    sync_fully(med_phone, demo.url)
    # The mediator's phone never receives the key of a request's personal data (ADR 0029): the
    # requester reads as sealed there, not even masked; the console and API above mask it.
    on_med_phone = [(p.role, p.name, p.phone) for p in med_phone.get_case(case_id).people]
    assert on_med_phone == [("requester", LOCKED, LOCKED)], on_med_phone
    assert REQUESTER_NAME not in "\n".join(med_phone.readable_texts())
