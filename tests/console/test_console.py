"""The review console in a real browser against `gridsync serve --demo` (issue 6, "Done means").

The demo county (server/src/demo.rs): county 130533, townships 100-102, villages 201-203, grids
01-02. In each village the grid 01 worker captured a case two weeks before the server's now that
they and the village mediator then retitled offline: a title conflict, never answered, so overdue.
"""

import csv
import io
import os
import re
import time
import urllib.parse
import urllib.request

import openpyxl
import pytest
from conftest import (
    absent,
    case_rows,
    click_and_wait,
    console_errors,
    fetch,
    login,
    new_browser,
    screenshot,
    total,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

KEPT = "村口变压器漏油（已设警示）"
OTHER = "村口变压器漏油，群众围观"
VILLAGE_201 = "130533/100/201"
# The conflict case of village 130533/100/201 is captured by the worker of its grid 01.
GRID_WORKER = "gw.10020101"


def all_ids(browser):
    """data-id of every row of the filtered list, following the pager to its last page."""
    ids = [r.get_attribute("data-id") for r in case_rows(browser)]
    while not absent(browser, By.ID, "next"):
        click_and_wait(browser, browser.find_element(By.ID, "next"))
        ids += [r.get_attribute("data-id") for r in case_rows(browser)]
    return ids


def place_of(row) -> str:
    """A row's area as its code: the name shows, the code is the `title` (on hover)."""
    return row.find_element(By.CSS_SELECTOR, ".place").get_attribute("title")


def set_text(browser, element_id: str, value: str):
    el = browser.find_element(By.ID, element_id)
    el.clear()
    el.send_keys(value)


def check(browser, element_id: str):
    el = browser.find_element(By.ID, element_id)
    if not el.is_selected():
        el.click()
    assert el.is_selected()


def case_id_of(url: str) -> str:
    path = urllib.parse.urlsplit(url).path
    assert path.startswith("/console/cases/"), url
    return path.rsplit("/", 1)[1]


def test_review_conflict_dispatch_reaches_phone(demo, browser, tmp_path):
    import gridsync_ffi

    login(browser, demo.url, "ts.100", demo.password("ts.100"))
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/cases"

    # The filter form: township 100 (the clerk's own, chosen already), village 201 by its name,
    # overdue only.
    township = Select(browser.find_element(By.ID, "f-township"))
    assert township.first_selected_option.get_attribute("value") == "100"
    Select(browser.find_element(By.ID, "f-village")).select_by_value("201")
    check(browser, "f-overdue")
    click_and_wait(browser, browser.find_element(By.ID, "apply"))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query)
    assert query.get("village") == ["201"] and query.get("township") == ["100"], query
    assert query.get("overdue") == ["1"], query
    rows = case_rows(browser)
    assert rows, "no overdue case in village 201: the demo seeds at least its conflict case"
    for row in rows:
        place = place_of(row)
        assert place == VILLAGE_201 or place.startswith(VILLAGE_201 + "/"), place
        assert row.find_elements(By.CSS_SELECTOR, "span.badge.late"), (
            f"row {row.get_attribute('data-id')} has no overdue badge"
        )
    assert total(browser) == len(rows), "共 N 件 differs from the rows shown"
    screenshot(browser, "list.png")

    # Narrowed to conflicts: the retitled case.
    check(browser, "f-conflict")
    click_and_wait(browser, browser.find_element(By.ID, "apply"))
    rows = case_rows(browser)
    assert len(rows) >= 1, "no overdue case in conflict in village 201"
    assert total(browser) == len(rows)
    for row in rows:
        assert row.find_elements(By.CSS_SELECTOR, "span.badge.conflict"), row.text
    conflicted = [
        r for r in rows if r.find_element(By.CSS_SELECTOR, "a.title").text in (KEPT, OTHER)
    ]
    assert len(conflicted) == 1, [r.text for r in rows]
    place = place_of(conflicted[0])
    assert place == VILLAGE_201 + "/01", f"the conflict case is in {place}, not grid 01"
    listed_id = conflicted[0].get_attribute("data-id")
    click_and_wait(browser, conflicted[0].find_element(By.CSS_SELECTOR, "a.title"))
    case_id = case_id_of(browser.current_url)
    assert case_id == listed_id

    # The conflict panel: a sentence on what happened, the field by its name, two titles, each
    # with who set it; keep the grid worker's.
    explain = browser.find_element(By.ID, "conflict-explain").text.strip()
    assert len(explain) >= 15 and explain[-1] in "。.！!", f"not a sentence: {explain!r}"
    panel = browser.find_element(By.CSS_SELECTOR, '#conflicts div.conflict[data-field="title"]')
    assert panel.find_element(By.TAG_NAME, "h3").text.strip() == "标题"
    values = {
        row.find_element(By.CSS_SELECTOR, "td.value").text: row
        for row in panel.find_elements(By.CSS_SELECTOR, "tr")
        if row.find_elements(By.CSS_SELECTOR, "td.value")
    }
    assert set(values) == {KEPT, OTHER}, values.keys()
    for row in values.values():
        by = row.find_element(By.CSS_SELECTOR, ".person")
        assert by.get_attribute("title") in (GRID_WORKER, "med.100201"), by.get_attribute("title")
    click_and_wait(browser, values[KEPT].find_element(By.CSS_SELECTOR, "button.keep"))
    assert not absent(browser, By.ID, "flash-done"), (
        f"no #flash-done after keeping a value: {browser.find_element(By.TAG_NAME, 'main').text}"
    )
    assert absent(browser, By.ID, "conflicts"), "the conflict panel is still shown"
    assert browser.find_element(By.ID, "case-title").text == KEPT

    # Accept (the case was never answered), then dispatch to a department.
    if not absent(browser, By.ID, "do-accepted"):
        click_and_wait(browser, browser.find_element(By.ID, "do-accepted"))
        assert absent(browser, By.ID, "flash-error"), browser.find_element(
            By.ID, "flash-error"
        ).text
        assert not absent(browser, By.ID, "flash-done")
        assert browser.find_element(By.ID, "case-status").text == "已受理"
    department = Select(browser.find_element(By.ID, "department"))
    codes = [o.get_attribute("value") for o in department.options]
    assert codes, "the department list is empty"
    chosen = "urban_management" if "urban_management" in codes else codes[0]
    department.select_by_value(chosen)
    chosen_name = department.first_selected_option.text
    set_text(browser, "note", "请城管局核实处置")
    click_and_wait(browser, browser.find_element(By.ID, "do-assigned"))
    assert absent(browser, By.ID, "flash-error"), browser.find_element(By.ID, "flash-error").text
    assert not absent(browser, By.ID, "flash-done")
    assert browser.find_element(By.ID, "case-status").text == "已转办"
    shown = browser.find_element(By.ID, "case-department")
    # The department by its name, its code kept for machines.
    assert (shown.text, shown.get_attribute("data-code")) == (chosen_name, chosen)
    assert chosen_name != chosen
    assert "请城管局核实处置" in browser.find_element(By.ID, "timeline").text
    screenshot(browser, "case.png")

    # The grid worker's phone gets the kept title and the dispatch on its next sync.
    phone = gridsync_ffi.FieldStore.open(str(tmp_path / "gw.db"), os.urandom(32))
    phone.login(demo.url, GRID_WORKER, demo.password(GRID_WORKER))
    phone.sync(demo.url, None)
    case = phone.get_case(case_id)
    assert case.title == KEPT
    assert case.conflicts == []
    assert case.status == "assigned"
    assert case.department == chosen
    assert [e for e in case.events if e.kind == "assigned" and e.department == chosen], [
        (e.kind, e.department) for e in case.events
    ]


def test_a_photo_from_the_phone_shows_on_the_case_page(demo, browser, tmp_path):
    """A grid worker photographs a hazard offline; after the phone syncs, the township's
    reviewer sees its thumbnail on the case page and opens the picture."""
    import gridsync_ffi
    from PIL import Image

    photo = tmp_path / "hazard.jpg"
    Image.frombytes("RGB", (640, 480), os.urandom(640 * 480 * 3)).save(photo, "JPEG", quality=90)
    phone = gridsync_ffi.FieldStore.open(str(tmp_path / "photo.db"), os.urandom(32))
    phone.login(demo.url, GRID_WORKER, demo.password(GRID_WORKER))
    case_id = phone.capture(
        gridsync_ffi.NewCaseRecord(
            kind="incident",
            jurisdiction=VILLAGE_201 + "/01",
            category="road_damage",
            title="桥面塌陷（附照片）",
            description="桥东侧塌陷约一米",
            lat=None,
            lon=None,
            address="村东小桥",
            people=[],
        )
    )
    phone.attach_photo(case_id, str(photo), "桥面", None, None)
    out = phone.sync(demo.url, None)
    assert (out.uploaded_attachments, out.pending_uploads) == (1, 0)

    login(browser, demo.url, "ts.100", demo.password("ts.100"))
    browser.get(f"{demo.url}/console/cases/{case_id}")
    img = browser.find_element(By.CSS_SELECTOR, "#photos figure.photo img")
    loaded = browser.execute_script(
        "const i = arguments[0];"
        "return i.complete ? [i.naturalWidth, i.naturalHeight] : null;",
        img,
    )
    assert loaded and 0 < max(loaded) <= 320, f"thumbnail not shown: {loaded}"
    assert "桥面" in browser.find_element(By.CSS_SELECTOR, "#photos figcaption").text
    screenshot(browser, "photo.png")
    link = browser.find_element(By.CSS_SELECTOR, "#photos figure.photo a").get_attribute("href")
    status, headers, body = fetch(browser, link)
    # The township sees the photo as taken.
    assert (status, headers["x-gridsync-variant"]) == (200, "original")
    assert body == photo.read_bytes()
    assert not console_errors(browser)


def test_export_matches_filtered_list(demo, browser):
    login(browser, demo.url, "ts.100", demo.password("ts.100"))
    browser.get(demo.url + "/console/cases?township=100&village=201&overdue=1")
    xlsx_href = browser.find_element(By.ID, "export-xlsx").get_attribute("href")
    csv_href = browser.find_element(By.ID, "export-csv").get_attribute("href")
    ids = all_ids(browser)
    assert ids, "the filtered list is empty: the export comparison would prove nothing"
    for href, path in ((xlsx_href, "/console/export.xlsx"), (csv_href, "/console/export.csv")):
        parts = urllib.parse.urlsplit(href)
        assert parts.path == path, href
        query = urllib.parse.parse_qs(parts.query)
        assert query.get("village") == ["201"] and query.get("township") == ["100"], href
        assert query.get("overdue") == ["1"], href

    status, headers, body = fetch(browser, xlsx_href)
    assert status == 200, (status, body[:200])
    assert "spreadsheetml" in headers.get("Content-Type", ""), headers.get("Content-Type")
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert table[0][:2] == ["案件编号", "标题"], table[0]
    assert [r[0] for r in table[1:]] == ids

    status, headers, body = fetch(browser, csv_href)
    assert status == 200, (status, body[:200])
    assert headers.get("Content-Type", "").startswith("text/csv"), headers.get("Content-Type")
    assert body.startswith(b"\xef\xbb\xbf"), "no byte-order mark: Excel would garble the Chinese"
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert table[0][:2] == ["案件编号", "标题"], table[0]
    assert [r[0] for r in table[1:]] == ids


def test_mediator_sees_only_own_village(demo, browser):
    # A case of village 202, as the township sees it.
    login(browser, demo.url, "ts.100", demo.password("ts.100"))
    browser.get(demo.url + "/console/cases?township=100&village=202")
    rows = case_rows(browser)
    assert rows, "no case in village 202"
    other_id = rows[0].get_attribute("data-id")
    other_title = rows[0].find_element(By.CSS_SELECTOR, "a.title").text
    assert place_of(rows[0]).startswith("130533/100/202")
    click_and_wait(browser, browser.find_element(By.ID, "logout"))
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/login"
    browser.get(demo.url + "/console/cases")
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/login", (
        "signed out, yet the list still shows"
    )

    login(browser, demo.url, "med.100201", demo.password("med.100201"))
    # Control: the mediator's own village is readable.
    own = case_rows(browser)
    assert own, "the mediator of village 201 sees no case at all"
    for row in own:
        assert place_of(row).startswith(VILLAGE_201), row.text
    assert other_id not in [r.get_attribute("data-id") for r in own]
    own_id = own[0].get_attribute("data-id")
    browser.get(f"{demo.url}/console/cases/{own_id}")
    assert not absent(browser, By.ID, "case-title"), (
        "the mediator cannot open a case of their own village"
    )

    # The other village's case: not found, and nothing of it shows.
    browser.get(f"{demo.url}/console/cases/{other_id}")
    assert not absent(browser, By.ID, "not-found")
    assert absent(browser, By.ID, "case-title")
    assert other_title not in browser.page_source
    status, _, body = fetch(browser, f"{demo.url}/console/cases/{other_id}")
    assert status == 404, status
    assert other_title.encode() not in body

    browser.get(demo.url + "/console/cases")
    set_text(browser, "f-q", other_title)
    click_and_wait(browser, browser.find_element(By.ID, "apply"))
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query).get("q") == [
        other_title
    ]
    found = [r.get_attribute("data-id") for r in case_rows(browser)]
    assert other_id not in found
    for row in case_rows(browser):
        assert place_of(row).startswith(VILLAGE_201), row.text

    # Nor through the export.
    status, _, body = fetch(
        browser, demo.url + "/console/export.csv?" + urllib.parse.urlencode({"q": other_title})
    )
    assert status == 200
    assert other_id.encode() not in body


def settle_log():
    """Lets requests the browser makes after the load (the favicon) reach the console log."""
    time.sleep(0.5)


@pytest.fixture(scope="module")
def admin(demo):
    """One browser signed in as the county admin for the page checks. Its console log is kept
    from the sign-in on: an error of the sign-in page shows in the first page checked."""
    driver = new_browser()
    # The console log is really read: an error logged by a page shows up as SEVERE.
    driver.get("about:blank")
    driver.execute_script("console.error('gridsync console self-check')")
    logged = console_errors(driver)
    assert any("gridsync console self-check" in e["message"] for e in logged), logged
    login(driver, demo.url, "county.admin", demo.password("county.admin"))
    yield driver
    driver.quit()


def test_login_page(demo, browser):
    """The sign-in page loads without console errors; a wrong password is refused and says so."""
    browser.get(demo.url + "/console/login")
    settle_log()
    errors = console_errors(browser)
    browser.find_element(By.ID, "user").send_keys("ts.102")
    browser.find_element(By.ID, "password").send_keys("not-the-password")
    click_and_wait(browser, browser.find_element(By.ID, "submit"))
    assert not absent(browser, By.ID, "login-error"), "a wrong password was not refused visibly"
    assert browser.get_cookie("gs_session") is None
    browser.get(demo.url + "/console/cases")
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/login"
    assert errors == [], f"browser console errors on the sign-in page: {errors}"


def test_sign_out_ends_the_session_on_the_server(demo, browser):
    """A copied session cookie stops working once its owner signs out; signing in again works."""
    login(browser, demo.url, "ts.101", demo.password("ts.101"))
    status, headers, _ = fetch(browser, demo.url + "/console/cases")
    assert status == 200
    # Pages with personal data are not cached and not framed.
    assert headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    copied = browser.get_cookie("gs_session")["value"]
    click_and_wait(browser, browser.find_element(By.ID, "logout"))
    req = urllib.request.Request(
        demo.url + "/console/cases", headers={"Cookie": f"gs_session={copied}"}
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        # Redirected to the sign-in page: the session is over on the server.
        assert urllib.parse.urlsplit(resp.url).path == "/console/login"
    login(browser, demo.url, "ts.101", demo.password("ts.101"))
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/cases"


PAGES = ["cases", "case", "supervision", "dashboard", "devices", "rules"]


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_console_errors(demo, admin, page):
    if page == "case":
        admin.get(demo.url + "/console/cases")
        rows = case_rows(admin)
        assert rows, "the county admin sees no case"
        url = rows[0].find_element(By.CSS_SELECTOR, "a.title").get_attribute("href")
    else:
        url = f"{demo.url}/console/{page}"
    admin.get(url)
    settle_log()
    # Everything since the last check: this page, and the list or sign-in page before it.
    errors = console_errors(admin)
    status, _, body = fetch(admin, url)
    assert status == 200, f"GET {url}: HTTP {status} {body[:200]!r}"
    assert urllib.parse.urlsplit(admin.current_url).path == urllib.parse.urlsplit(url).path, (
        f"{url} went to {admin.current_url}"
    )
    assert not absent(admin, By.TAG_NAME, "main"), f"{url} has no <main>"
    assert absent(admin, By.ID, "not-found")
    if page == "dashboard":
        screenshot(admin, "dashboard.png")
    assert errors == [], f"browser console errors since the last check, up to {url}: {errors}"


def test_english_switch(demo, admin):
    admin.get(demo.url + "/console/cases")
    headers = [th.text for th in admin.find_elements(By.CSS_SELECTOR, "table#cases thead th")]
    assert "状态" in headers, headers
    try:
        click_and_wait(admin, admin.find_element(By.ID, "lang"))
        assert urllib.parse.urlsplit(admin.current_url).path == "/console/cases"
        headers = [th.text for th in admin.find_elements(By.CSS_SELECTOR, "table#cases thead th")]
        assert "Status" in headers and "Title" in headers, headers
        assert admin.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
        assert "Total" in admin.find_element(By.ID, "total").text
    finally:
        if admin.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en":
            click_and_wait(admin, admin.find_element(By.ID, "lang"))
    headers = [th.text for th in admin.find_elements(By.CSS_SELECTOR, "table#cases thead th")]
    assert "状态" in headers, headers
    assert admin.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"
    assert console_errors(admin) == []


def test_county_admin_changes_a_time_limit(demo, browser):
    """The county admin changes a category's time limit on the rules page: a bad limit is refused
    with the rules unchanged; a good one is saved as the next version, shown in the table and in
    the history with who changed what (the audit log's `rules_change` row says the same)."""
    login(browser, demo.url, "county.admin", demo.password("county.admin"))
    browser.get(demo.url + "/console/rules")
    assert browser.find_element(By.ID, "nav-rules").get_attribute("class") == "on"
    if not absent(browser, By.ID, "calendar-warning"):
        # From 1 December without next year's calendar: the banner says which year, and links here.
        banner = browser.find_element(By.ID, "calendar-warning")
        assert "工作日历缺少" in banner.text, banner.text
        link = banner.find_element(By.TAG_NAME, "a").get_attribute("href")
        assert urllib.parse.urlsplit(link).path == "/console/rules", link
    version = int(re.search(r"\d+", browser.find_element(By.ID, "rules-version").text).group())
    row_css = "table#categories tr.category[data-code='elevator_repair']"

    def limit_input():
        return browser.find_element(By.CSS_SELECTOR, row_css + " input.limit-input")

    def submit(value):
        field = limit_input()
        field.clear()
        field.send_keys(value)
        save = browser.find_element(By.CSS_SELECTOR, row_css + " button.save-category")
        click_and_wait(browser, save)

    before = limit_input().get_attribute("value")
    new = "6wd" if before == "5wd" else "5wd"

    submit("-3wd")
    error = browser.find_element(By.ID, "rules-error").text
    assert "-3wd" in error, error
    assert f"{version}" in browser.find_element(By.ID, "rules-version").text
    assert limit_input().get_attribute("value") == before
    # The refusal is answered 422: the only thing the browser may log about it.
    settle_log()
    logged = console_errors(browser)
    assert all("422" in e["message"] for e in logged), logged

    submit(new)
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/rules"
    assert not absent(browser, By.ID, "rules-saved"), "no success notice"
    assert str(version + 1) in browser.find_element(By.ID, "rules-version").text
    row = browser.find_element(By.CSS_SELECTOR, row_css)
    assert new in row.find_element(By.CSS_SELECTOR, "td.limit").text, row.text
    assert limit_input().get_attribute("value") == new
    latest = browser.find_element(By.CSS_SELECTOR, "table#rules-history tr.rules-version")
    assert latest.get_attribute("data-version") == str(version + 1), latest.text
    cells = [td.text for td in latest.find_elements(By.TAG_NAME, "td")]
    assert cells[1] == "county.admin", cells
    assert f"电梯维修 (elevator_repair) 时限 {before} → {new}" in cells[3], cells
    screenshot(browser, "rules.png")
    settle_log()
    assert console_errors(browser) == []


def test_server_logged_no_errors(demo):
    """Last: nothing the console did above made the server log an error or panic."""
    log = (demo.workdir / "server.log").read_text(errors="replace")
    bad = [line for line in log.splitlines() if " ERROR " in line or "panicked" in line]
    assert bad == [], "\n".join(bad[:20])
