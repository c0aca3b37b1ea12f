"""The console speaks the clerk's language (issue 21, "Done means"), in a real browser against
`gridsync serve --demo`.

Areas show by name with the code on hover, people by name with the account on hover; the area
filters are pickers from the jurisdiction tree; the conflict panel, the dashboard and the
supervision board use words; a hostile phone's 100,000-character title and a case with 5,000
changes leave the pages usable; revoking a device asks first. Every console page is
photographed at 1400×1000 and at 1280×720.

The demo county (server/src/demo.rs) is 威县 (130533): townships 100-102, each with villages
201-203, each with grids 01-02; a grid worker `gw.{t}{v}{g}` per grid, a mediator `med.{t}{v}`
per village, township staff `ts.{t}`. Cases that bypass the editor are pushed by
tests/console/push_case.mjs, the JavaScript Automerge writing as a phone writes.
"""

import json
import os
import re
import subprocess
import urllib.parse
from pathlib import Path

import pytest
from conftest import (
    IMPLICIT_WAIT,
    SCREENSHOTS,
    absent,
    case_rows,
    click_and_wait,
    fetch,
    login,
    new_browser,
    screenshot,
    total,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

COUNTY_NAME = "威县"
# A jurisdiction code as a person would meet it in text: a county code alone or as a path.
CODE = re.compile(r"(?<![\w/])\d{6}(/[0-9A-Za-z_-]+)*(?![\w/])")
PATH = re.compile(r"^\d{6}(/[0-9A-Za-z_-]+)*$")
TOTAL = re.compile(r"(\d+)")
LEVELS = ["网格", "村/社区", "乡镇/街道", "县/区"]
# The grid worker whose phone writes the hostile cases (its grid is 130533/100/201/01).
JS_WORKER = "gw.10020101"
# The grid worker whose new phone the revoke test revokes: no other test uses it.
LOST_PHONE_WORKER = "gw.10220202"
SIZES = [(1400, 1000), (1280, 720)]


# --- helpers ---


def visible_text(browser) -> str:
    return browser.execute_script("return document.body.innerText")


def path_of(url: str) -> str:
    return urllib.parse.urlsplit(url).path


def query_of(url: str) -> dict:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)


def around(text: str, start: int, end: int, width: int = 30) -> str:
    return text[max(0, start - width) : end + width].replace("\n", " ⏎ ")


def codes_and_ids(text: str, accounts) -> list[str]:
    """Every jurisdiction code and account id in `text`, each with the text around it."""
    found = [
        f"code {m.group(0)!r} in …{around(text, m.start(), m.end())}…" for m in CODE.finditer(text)
    ]
    for user in accounts:
        at = text.find(user)
        if at >= 0:
            found.append(f"account {user!r} in …{around(text, at, at + len(user))}…")
    return found


def all_places(browser) -> list[str]:
    """The `.place` title of every row of the filtered list, following the pager to its end."""
    places = []
    while True:
        for row in case_rows(browser):
            places.append(row.find_element(By.CSS_SELECTOR, ".place").get_attribute("title"))
        if absent(browser, By.ID, "next"):
            return places
        click_and_wait(browser, browser.find_element(By.ID, "next"))


def options(browser, element_id: str) -> list[tuple[str, str]]:
    """(value, text) of every option of the select `element_id`."""
    el = browser.find_element(By.ID, element_id)
    assert el.tag_name == "select", f"#{element_id} is a <{el.tag_name}>, not a <select>"
    return [(o.get_attribute("value"), o.text.strip()) for o in Select(el).options]


def check_people(browser, demo, where: str, min_count: int = 0):
    """Every `.person` names an account of the demo (title) by that account's name (text)."""
    browser.implicitly_wait(0)
    try:
        people = browser.find_elements(By.CSS_SELECTOR, "main .person")
    finally:
        browser.implicitly_wait(IMPLICIT_WAIT)
    assert len(people) >= min_count, f"{where}: {len(people)} .person elements"
    for p in people:
        user = p.get_attribute("title")
        if user in demo.accounts:
            assert p.text.strip() == demo.accounts[user].name, (
                f"{where}: .person title={user!r} reads {p.text!r}, "
                f"not {demo.accounts[user].name!r}"
            )
    return people


def check_places(browser, where: str, scope: str = "table#cases", min_count: int = 1):
    """Every `.place` has its code as a path in `title` and a name, not a code, as its text."""
    browser.implicitly_wait(0)
    try:
        places = browser.find_elements(By.CSS_SELECTOR, f"{scope} .place")
    finally:
        browser.implicitly_wait(IMPLICIT_WAIT)
    assert len(places) >= min_count, f"{where}: {len(places)} .place elements in {scope}"
    for p in places:
        title, text = p.get_attribute("title") or "", p.text.strip()
        assert PATH.match(title), f"{where}: .place title={title!r} is not a jurisdiction path"
        assert text and not PATH.match(text) and not CODE.search(text), (
            f"{where}: .place title={title!r} reads {text!r}"
        )
    return places


def timeline_rows(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#timeline tbody tr")


def push_case(demo, user: str, title: str, edits: int = 0, chunk: int = 1000) -> dict:
    """A case written and pushed by tests/console/push_case.mjs (JS Automerge, a new device)."""
    js = os.environ.get("GRIDSYNC_JS")
    assert js, "GRIDSYNC_JS is unset: run these tests with tools/test-console.sh"
    spec = {
        "url": demo.url,
        "user": user,
        "password": demo.password(user),
        "title": title,
        "edits": edits,
        "chunk": chunk,
    }
    out = subprocess.run(
        ["node", str(Path(js) / "push_case.mjs")],
        cwd=js,
        input=json.dumps(spec, ensure_ascii=False),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, f"push_case.mjs failed:\n{out.stderr[-4000:]}"
    pushed = json.loads(out.stdout.strip().splitlines()[-1])
    assert pushed["rejected"] == [], pushed["rejected"][:5]
    assert pushed["accepted"] == pushed["changes"] == edits + 1, pushed
    return pushed


@pytest.fixture(scope="module")
def admin(demo):
    """One browser signed in as the county admin, for the pages that only read."""
    driver = new_browser()
    login(driver, demo.url, "county.admin", demo.password("county.admin"))
    yield driver
    driver.quit()


# --- 1. names, not codes ---


@pytest.mark.parametrize("user", ["ts.100", "county.admin"])
def test_pages_show_names_not_codes(demo, browser, user):
    """On the list, the first five case pages, a print view, supervision and the dashboard, no
    account id and no jurisdiction code is visible text: areas and people show by name, their
    codes only on hover."""
    login(browser, demo.url, user, demo.password(user))
    browser.get(demo.url + "/console/cases")
    rows = case_rows(browser)
    assert len(rows) >= 5, f"{user} sees {len(rows)} cases"
    check_places(browser, f"/console/cases as {user}")
    people = check_people(browser, demo, f"/console/cases as {user}", min_count=1)
    # The reporters are accounts of the demo, shown by their names.
    assert any(p.get_attribute("title") in demo.accounts for p in people), [
        p.get_attribute("title") for p in people
    ]
    cases = [r.find_element(By.CSS_SELECTOR, "a.title").get_attribute("href") for r in rows[:5]]
    pages = (
        [demo.url + "/console/cases"]
        + cases
        + [cases[0] + "/print", demo.url + "/console/supervision", demo.url + "/console/dashboard"]
    )
    problems = []
    for url in pages:
        browser.get(url)
        assert path_of(browser.current_url) == path_of(url), f"{url} went to {browser.current_url}"
        assert absent(browser, By.ID, "not-found") and absent(browser, By.ID, "forbidden"), url
        text = visible_text(browser)
        assert len(text) > 50, f"{url}: next to no text: {text!r}"
        problems += [f"{path_of(url)}: {p}" for p in codes_and_ids(text, demo.accounts)]
        if url in cases:
            check_places(browser, url, scope="main")
            check_people(browser, demo, url, min_count=1)
    assert problems == [], f"as {user}, visible codes or account ids:\n" + "\n".join(problems)


# --- 2. the cascade filter ---


def test_cascade_filter_narrows_to_one_grid(demo, admin):
    """Township → village → grid, each a list of names, each level offered once the level above is
    chosen and applied: the list ends with one grid's cases."""
    admin.get(demo.url + "/console/cases")
    assert admin.execute_script("return document.scripts.length") == 0, "the page has scripts"
    unfiltered = total(admin)
    # Nothing chosen: the lower levels offer only 全部.
    assert options(admin, "f-village") == [("", "全部")], options(admin, "f-village")
    assert options(admin, "f-grid") == [("", "全部")], options(admin, "f-grid")

    grids = [
        r.find_element(By.CSS_SELECTOR, ".place").get_attribute("title") for r in case_rows(admin)
    ]
    grids = [g for g in grids if len(g.split("/")) == 4]
    assert grids, "no case of a grid on the list's first page"
    county, t, v, g = grids[0].split("/")
    scopes = {a.scope for a in demo.accounts.values()}
    mediators = {a.scope: a.name for a in demo.accounts.values() if a.role == "mediator"}

    townships = options(admin, "f-township")
    assert townships[0] == ("", "全部"), townships
    # By name; the value is the township's own code segment.
    expected = sorted({s.split("/")[1] for s in scopes if s.startswith(county + "/")})
    assert sorted(v_ for v_, _ in townships[1:]) == expected, townships
    for value, name in townships[1:]:
        assert name and name != value and not re.search(r"\d", name), townships
    Select(admin.find_element(By.ID, "f-township")).select_by_value(t)
    click_and_wait(admin, admin.find_element(By.ID, "apply"))
    assert query_of(admin.current_url).get("township") == [t], admin.current_url
    by_township = total(admin)

    # Only this township's villages: their codes, and their names (each village's mediator is
    # named after the village; codes 201-203 repeat in every township, names do not).
    villages = options(admin, "f-village")
    assert villages[0] == ("", "全部"), villages
    expected = sorted(
        {s.split("/")[2] for s in scopes if s.startswith(f"{county}/{t}/") and s.count("/") >= 2}
    )
    assert sorted(x for x, _ in villages[1:]) == expected, villages
    township_mediators = [n for s, n in mediators.items() if s.startswith(f"{county}/{t}/")]
    for value, name in villages[1:]:
        assert name and name != value, villages
        assert any(m.startswith(name) for m in township_mediators), (
            f"village {value} {name!r} of township {t}: no mediator of the township named after "
            f"it ({township_mediators})"
        )
    assert options(admin, "f-grid") == [("", "全部")], "grids offered before a village is chosen"
    Select(admin.find_element(By.ID, "f-village")).select_by_value(v)
    village_name = Select(admin.find_element(By.ID, "f-village")).first_selected_option.text
    click_and_wait(admin, admin.find_element(By.ID, "apply"))
    query = query_of(admin.current_url)
    assert (query.get("township"), query.get("village")) == ([t], [v]), admin.current_url
    by_village = total(admin)

    grid_options = options(admin, "f-grid")
    assert grid_options[0] == ("", "全部"), grid_options
    expected = sorted({s.split("/")[3] for s in scopes if s.startswith(f"{county}/{t}/{v}/")})
    assert sorted(x for x, _ in grid_options[1:]) == expected, grid_options
    # Grid codes repeat in every village; the demo's grid names carry their village's name
    # (东街村第1网格): none may carry another village's.
    other_villages = {m.split("调解员")[0] for m in mediators.values()} - {village_name.strip()}
    for value, name in grid_options[1:]:
        assert name and name != value, grid_options
        assert not [o for o in other_villages if o in name], (village_name, grid_options)
    Select(admin.find_element(By.ID, "f-grid")).select_by_value(g)
    click_and_wait(admin, admin.find_element(By.ID, "apply"))
    query = query_of(admin.current_url)
    assert (query.get("township"), query.get("village"), query.get("grid")) == ([t], [v], [g])
    by_grid = total(admin)
    # The choices stay chosen.
    for element_id, value in (("f-township", t), ("f-village", v), ("f-grid", g)):
        chosen = Select(admin.find_element(By.ID, element_id)).first_selected_option
        assert chosen.get_attribute("value") == value, element_id

    assert by_grid > 0, "the grid of a listed case has no case"
    assert by_grid < unfiltered, (by_grid, unfiltered)
    assert by_grid <= by_village <= by_township <= unfiltered
    places = all_places(admin)
    assert len(places) == by_grid, (len(places), by_grid)
    assert set(places) == {grids[0]}, sorted(set(places))


# --- 3. a 100,000-character title ---


def test_a_huge_title_is_shortened_in_the_list(demo, admin):
    title = "危" * 100_000
    pushed = push_case(demo, JS_WORKER, title)
    admin.get(demo.url + "/console/cases?sort=newest")
    rows = [r for r in case_rows(admin) if r.get_attribute("data-id") == pushed["id"]]
    assert len(rows) == 1, f"the pushed case {pushed['id']} is not on the newest page"
    shown = rows[0].find_element(By.CSS_SELECTOR, "a.title").text
    assert len(shown) <= 61 and shown.endswith("…"), f"{len(shown)} characters: {shown[:80]!r}"
    assert shown.startswith("危" * 10), shown
    size = len(admin.page_source.encode())
    assert size < 100 * 1024, f"the list is {size} bytes with the long title on it"
    status, _, body = fetch(admin, admin.current_url)
    assert status == 200 and pushed["id"].encode() in body
    assert len(body) < 100 * 1024, f"the list's HTML is {len(body)} bytes"


# --- 4. 5,000 changes ---


def test_a_case_of_5000_changes_pages_its_history(demo, admin):
    pushed = push_case(demo, JS_WORKER, "路灯反复闪烁（五千次修改）", edits=4999)
    url = f"{demo.url}/console/cases/{pushed['id']}"
    admin.get(url)
    assert admin.find_element(By.ID, "case-title").text == "路灯反复闪烁（五千次修改）"
    size = len(admin.page_source.encode())
    assert size < 300 * 1024, f"the case page is {size} bytes"
    status, _, body = fetch(admin, url)
    assert status == 200
    assert len(body) < 300 * 1024, f"the case page's HTML is {len(body)} bytes"
    assert not absent(admin, By.ID, "history-pager"), "no #history-pager"
    first = [r.get_attribute("data-hash") for r in timeline_rows(admin)]
    assert len(first) == 100, f"{len(first)} timeline rows"
    # The next page: another hundred.
    click_and_wait(admin, admin.find_element(By.CSS_SELECTOR, "#history-pager #history-next"))
    second = [r.get_attribute("data-hash") for r in timeline_rows(admin)]
    assert len(second) == 100 and not set(first) & set(second), (len(second), first[:2], second[:2])


# --- 5. revoking asks first ---


def test_revoking_a_device_asks_first(demo, tmp_path):
    import gridsync_ffi

    # A phone of the test's own, signed in (the device exists from the sign-in on).
    phone = gridsync_ffi.FieldStore.open(str(tmp_path / "lost.db"), os.urandom(32))
    phone.login(demo.url, LOST_PHONE_WORKER, demo.password(LOST_PHONE_WORKER))
    phone.sync(demo.url, None)
    lost = phone.device_id()

    browser = new_browser()
    try:
        login(browser, demo.url, "county.admin", demo.password("county.admin"))
        browser.get(demo.url + "/console/devices")

        def row(device):
            return browser.find_element(By.CSS_SELECTOR, f'tr.device[data-id="{device}"]')

        def revoke_links(r):
            browser.implicitly_wait(0)
            try:
                return r.find_elements(By.CSS_SELECTOR, "a.revoke")
            finally:
                browser.implicitly_wait(IMPLICIT_WAIT)

        # The admin's own console session: listed with the admin, and never offered.
        admins = [
            p.find_element(By.XPATH, "./ancestor::tr[1]")
            for p in browser.find_elements(
                By.CSS_SELECTOR, 'tr.device .person[title="county.admin"]'
            )
        ]
        consoles = [r for r in admins if r.get_attribute("data-id").startswith("console")]
        assert len(consoles) == 1, [r.get_attribute("data-id") for r in admins]
        assert revoke_links(consoles[0]) == [], "停用 is offered on the admin's own session"
        assert demo.accounts["county.admin"].name in consoles[0].text

        assert "已停用" not in row(lost).text
        assert len(revoke_links(row(lost))) == 1, row(lost).text
        # Asked first; cancelling changes nothing.
        click_and_wait(browser, revoke_links(row(lost))[0])
        question = browser.find_element(By.ID, "revoke-question")
        assert question.text.strip(), "the question is empty"
        assert demo.accounts[LOST_PHONE_WORKER].name in question.text, question.text
        browser.find_element(By.ID, "revoke-confirm")
        click_and_wait(browser, browser.find_element(By.ID, "revoke-cancel"))
        assert path_of(browser.current_url) == "/console/devices", browser.current_url
        assert "已停用" not in row(lost).text, "cancelled, yet revoked"
        assert len(revoke_links(row(lost))) == 1

        # Confirmed: revoked.
        click_and_wait(browser, revoke_links(row(lost))[0])
        click_and_wait(browser, browser.find_element(By.ID, "revoke-confirm"))
        assert path_of(browser.current_url) == "/console/devices", browser.current_url
        assert "已停用" in row(lost).text, row(lost).text
        assert revoke_links(row(lost)) == []
    finally:
        browser.quit()


# --- 6. the dashboard ---


def rgb(css: str) -> tuple:
    nums = re.findall(r"[\d.]+", css)
    assert len(nums) >= 3, f"not a colour: {css!r}"
    return tuple(round(float(n)) for n in nums[:3])


def test_dashboard_in_words(demo, admin):
    admin.get(demo.url + "/console/dashboard")
    title = admin.find_element(By.CSS_SELECTOR, "h1#dashboard-title").text
    assert not CODE.search(title) and COUNTY_NAME in title, title
    assert absent(admin, By.ID, "period-error"), "a period error without a period asked for"
    label = admin.find_element(By.CSS_SELECTOR, "#fig-received .label").text.strip()
    assert label == "收件量", label

    texts = [
        t.get_attribute("textContent").strip()
        for t in admin.find_elements(By.CSS_SELECTOR, "#chart-level text")
    ]
    labels = [t for t in texts if not re.fullmatch(r"[\d\s/]+", t)]
    assert labels, f"#chart-level has no labels: {texts}"
    assert all(t in LEVELS for t in labels), labels
    assert labels == sorted(labels, key=LEVELS.index) and len(set(labels)) == len(labels), labels

    def computed(css: str, prop: str) -> str:
        el = admin.find_element(By.CSS_SELECTOR, css)
        return admin.execute_script(
            "return getComputedStyle(arguments[0]).getPropertyValue(arguments[1])", el, prop
        )

    key_a = rgb(computed(".legend .key.a", "background-color"))
    key_b = rgb(computed(".legend .key.b", "background-color"))
    bar_a = rgb(computed("#chart-category rect.a", "fill"))
    bar_b = rgb(computed("#chart-category rect.b", "fill"))
    assert (key_a, key_b) == (bar_a, bar_b), f"legend {key_a} {key_b}, bars {bar_a} {bar_b}"
    assert key_a != key_b, key_a

    for query in ("from=2026-12-10&to=2026-12-01", "from=not-a-date"):
        admin.get(f"{demo.url}/console/dashboard?{query}")
        assert not absent(admin, By.ID, "period-error"), f"?{query}: no #period-error"
        assert admin.find_element(By.ID, "period-error").text.strip()


# --- 7. the conflict panel ---


def conflict_case_url(demo, browser) -> str:
    """A case whose title is in conflict (the demo leaves one in each village)."""
    browser.get(demo.url + "/console/cases?conflict=1")
    rows = case_rows(browser)
    assert rows, "no case in conflict on the demo"
    for r in rows:
        href = r.find_element(By.CSS_SELECTOR, "a.title").get_attribute("href")
        status, _, body = fetch(browser, href)
        if status == 200 and b'data-field="title"' in body:
            return href
    raise AssertionError("no case with a title conflict among the conflicts listed")


def test_conflict_panel_in_words(demo, admin):
    admin.get(conflict_case_url(demo, admin))
    explain = admin.find_element(By.ID, "conflict-explain").text.strip()
    assert len(explain) >= 15 and explain[-1] in "。.！!", f"not a sentence: {explain!r}"
    heading = admin.find_element(By.CSS_SELECTOR, '.conflict[data-field="title"] h3').text.strip()
    assert heading == "标题", heading
    problems = codes_and_ids(visible_text(admin), demo.accounts)
    assert problems == [], problems
    for role in ("requester", "applicant", "respondent"):
        assert role not in visible_text(admin), f"the role {role!r} shows untranslated"


# --- 8. the supervision board ---


def test_supervision_board_pages_and_says_who_holds_it(demo, admin):
    admin.get(demo.url + "/console/supervision")
    headers = [th.text.strip() for th in admin.find_elements(By.CSS_SELECTOR, "#overdue table th")]
    assert "承办部门" in headers and "督办情况" in headers, headers
    m = TOTAL.search(admin.find_element(By.CSS_SELECTOR, "#overdue .total").text)
    assert m, admin.find_element(By.CSS_SELECTOR, "#overdue .total").text
    overdue = int(m.group(1))
    rows = admin.find_elements(By.CSS_SELECTOR, "#overdue tr.case[data-id]")
    if overdue > 25:
        assert len(rows) == 25, f"{overdue} overdue, {len(rows)} rows on the first page"
        first = {r.get_attribute("data-id") for r in rows}
        click_and_wait(admin, admin.find_element(By.CSS_SELECTOR, "#overdue-pager a.next"))
        rows = admin.find_elements(By.CSS_SELECTOR, "#overdue tr.case[data-id]")
        second = {r.get_attribute("data-id") for r in rows}
        assert len(second) == min(25, overdue - 25), (len(second), overdue)
        assert not first & second, "the next page repeats rows"
    else:
        assert len(rows) == overdue, (len(rows), overdue)
        assert absent(admin, By.ID, "overdue-pager")


# --- 9. the print view ---


def test_print_view(demo, admin):
    admin.get(demo.url + "/console/cases")
    href = case_rows(admin)[0].find_element(By.CSS_SELECTOR, "a.title").get_attribute("href")
    admin.get(href)
    title = admin.find_element(By.ID, "case-title").text
    link = admin.find_element(By.CSS_SELECTOR, "a#print-link").get_attribute("href")
    assert path_of(link) == path_of(href) + "/print", link
    click_and_wait(admin, admin.find_element(By.CSS_SELECTOR, "a#print-link"))
    view = admin.find_element(By.ID, "print-view")
    assert title and title in view.text, (title, view.text[:200])
    assert absent(admin, By.CSS_SELECTOR, "header.top"), "the print view has the navigation"
    assert absent(admin, By.TAG_NAME, "form"), "the print view has forms"


# --- 10. screenshots of every page ---


def test_screenshots_of_every_page(demo, admin):
    conflict = conflict_case_url(demo, admin)
    admin.get(demo.url + "/console/devices")
    # A phone's (not a colleague's console). Asking is a GET: the question shows, nothing changes.
    revokes = [
        a.get_attribute("href")
        for a in admin.find_elements(By.CSS_SELECTOR, "tr.device a.revoke")
        if not a.find_element(By.XPATH, "./ancestor::tr[1]")
        .get_attribute("data-id")
        .startswith("console")
    ]
    assert revokes, "no phone to revoke on /console/devices"
    revoke = revokes[0]
    pages = {
        "cases": demo.url + "/console/cases",
        "case": conflict,
        "print": conflict + "/print",
        "supervision": demo.url + "/console/supervision",
        "dashboard": demo.url + "/console/dashboard",
        "devices": demo.url + "/console/devices",
        "revoke": revoke,
        "quarantine": demo.url + "/console/quarantine",
        "rules": demo.url + "/console/rules",
    }
    signed_out = new_browser()
    taken = []
    try:
        for width, height in SIZES:
            for driver in (signed_out, admin):
                driver.set_window_size(width, height)
            signed_out.get(demo.url + "/console/login")
            signed_out.find_element(By.ID, "login-form")
            taken.append(screenshot(signed_out, f"login-{width}x{height}.png"))
            for name, url in pages.items():
                admin.get(url)
                assert path_of(admin.current_url) == path_of(url), (url, admin.current_url)
                assert absent(admin, By.ID, "not-found") and absent(admin, By.ID, "forbidden"), url
                taken.append(screenshot(admin, f"{name}-{width}x{height}.png"))
    finally:
        signed_out.quit()
        admin.set_window_size(*SIZES[0])
    from PIL import Image

    assert len(taken) == 2 * (len(pages) + 1)
    for path in taken:
        assert path.parent == SCREENSHOTS and path.stat().st_size > 0, path
        with Image.open(path) as img:
            assert img.format == "PNG" and img.width >= 1200, (path, img.format, img.size)
