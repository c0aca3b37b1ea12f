"""考核 and 问责 in a real browser against `gridsync serve --demo` (issue 23, "Done means", the
browser bullet and the department's bullet).

The county admin opens the departments' ranking over the demo's weeks, drills into a
department's overdue cases (as many rows as the ranking's figure, every one marked overdue),
records 约谈 on an accountability record (it then shows as decided, with the note, and cannot be
decided twice), and downloads the monthly report as XLSX: the same rows, names, counts, rates and
scores as the page. The department account dept.urban sees its own row only, may drill into its
own figures, and gets 403 (无权查看) drilling into another department's cases — none of which
show. A township clerk scores a department (基层评议); the score reaches the ranking.
"""

import datetime
import io
import urllib.error
import urllib.parse
import urllib.request

import openpyxl
from conftest import absent, click_and_wait, console_errors, fetch, login, new_browser, screenshot
from selenium.webdriver.common.by import By

ADMIN = "county.admin"
DEPARTMENT = "dept.urban"
OWN_DEPARTMENT = "urban_management"
CLERK = "ts.100"
# The rules' calendar is China's (UTC+8).
CHINA = datetime.timezone(datetime.timedelta(hours=8))
# The demo's cases are captured over the four weeks before the server's now.
DAYS = 35
NOTE = "已约谈城管局分管负责人，责令三日内整改到位。"


def period() -> str:
    """`from=…&to=…` over the demo's weeks, today included."""
    today = datetime.datetime.now(CHINA).date()
    start = today - datetime.timedelta(days=DAYS)
    return f"from={start.isoformat()}&to={today.isoformat()}"


def ranking_url(demo, kind: str) -> str:
    return f"{demo.url}/console/assessment?kind={kind}&{period()}"


def text_of(el, css: str) -> str:
    """The text of the one element `css` within `el`, or "" when there is none."""
    found = el.find_elements(By.CSS_SELECTOR, css)
    return found[0].text.strip() if found else ""


def ranking_rows(browser):
    """The ranking as shown: one dict per unit, in the page's order."""
    browser.find_element(By.ID, "period")  # the page is there
    browser.implicitly_wait(0)
    try:
        rows = []
        for tr in browser.find_elements(By.CSS_SELECTOR, "table#ranking tr.unit"):
            figures = {}
            for td in tr.find_elements(By.CSS_SELECTOR, "td.fig"):
                figures[td.get_attribute("data-figure")] = (
                    text_of(td, ".count"),
                    text_of(td, ".rate") or None,
                )
            rows.append(
                {
                    "unit": tr.get_attribute("data-unit"),
                    "rank": text_of(tr, "td.rank"),
                    "name": text_of(tr, "td.name"),
                    "figures": figures,
                    "avg": text_of(tr, "td.avg") or None,
                    "score": text_of(tr, "td.score"),
                    "listed": text_of(tr, "td.listed"),
                    "tr": tr,
                }
            )
        return rows
    finally:
        browser.implicitly_wait(5)


def post(browser, url: str, form: dict):
    """POSTs a form outside the browser with its session cookie: (status, headers, body)."""
    cookie = browser.get_cookie("gs_session")
    assert cookie, "the browser holds no gs_session cookie"
    req = urllib.request.Request(
        url,
        data=urllib.parse.urlencode(form).encode(),
        headers={
            "Cookie": f"gs_session={cookie['value']}",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        method="POST",
    )

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def decimal(value) -> str:
    return "—" if value is None else f"{value:.1f}"


def percent(value) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def test_county_admin_ranks_drills_and_the_xlsx_equals_the_page(demo, browser):
    login(browser, demo.url, ADMIN, demo.password(ADMIN))
    # The navigation leads there; by default this month of the departments.
    click_and_wait(browser, browser.find_element(By.ID, "nav-assessment"))
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/assessment"
    assert "职能部门" in browser.find_element(By.ID, "period").text
    assert not absent(browser, By.ID, "weights")
    assert "规则" in browser.find_element(By.ID, "weights-note").text

    browser.get(ranking_url(demo, "department"))
    rows = ranking_rows(browser)
    assert rows, "the departments' ranking is empty over the demo's weeks"
    screenshot(browser, "assessment-ranking.png")
    # Names, never codes; best first; 红榜 at the top.
    for row in rows:
        assert row["name"] and row["name"] != row["unit"], row
    ranks = [int(r["rank"]) for r in rows if r["rank"] != "—"]
    assert ranks == list(range(1, len(ranks) + 1)), ranks
    red = [li.get_attribute("data-unit") for li in browser.find_elements(By.CSS_SELECTOR, "#red-list li")]
    assert red and red == [r["unit"] for r in rows[: len(red)]], (red, rows[:3])
    for row in rows:
        assert ("红榜" in row["listed"]) == (row["unit"] in red), row

    # A department with overdue cases: its drill-down lists exactly that many, each overdue.
    late = [r for r in rows if int(r["figures"]["overdue"][0]) > 0]
    assert late, "no department has an overdue case in the demo"
    row = late[0]
    expected = int(row["figures"]["overdue"][0])
    link = row["tr"].find_element(By.CSS_SELECTOR, "td.fig[data-figure='overdue'] a.count")
    click_and_wait(browser, link)
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/assessment/cases"
    assert browser.find_element(By.ID, "drill-unit").text == row["name"]
    assert int(browser.find_element(By.ID, "drill-total").get_attribute("data-count")) == expected
    cases = browser.find_elements(By.CSS_SELECTOR, "table#drill-cases tr.case")
    assert len(cases) == expected, (len(cases), expected)
    for tr in cases:
        assert text_of(tr, "td.overdue") == "超时", tr.text
    screenshot(browser, "assessment-drill.png")
    case_id = cases[0].get_attribute("data-id")
    click_and_wait(browser, cases[0].find_element(By.CSS_SELECTOR, "a.case-link"))
    assert urllib.parse.urlsplit(browser.current_url).path == f"/console/cases/{case_id}"

    # The monthly report as XLSX: the page's rows, names and numbers.
    browser.get(ranking_url(demo, "department"))
    rows = ranking_rows(browser)
    # Each figure's column header, as the page names it (the rate below it on a line of its own).
    names = {
        th.get_attribute("data-figure"): th.text.splitlines()[0].strip()
        for th in browser.find_elements(By.CSS_SELECTOR, "table#ranking thead th[data-figure]")
    }
    href = browser.find_element(By.ID, "export-xlsx").get_attribute("href")
    assert urllib.parse.urlsplit(href).path == "/console/assessment.xlsx", href
    status, headers, body = fetch(browser, href)
    assert status == 200, (status, body[:200])
    assert "spreadsheetml" in headers.get("Content-Type", ""), headers.get("Content-Type")
    book = openpyxl.load_workbook(io.BytesIO(body), read_only=True)
    sheet = book.worksheets[0]
    table = [list(r) for r in sheet.iter_rows(values_only=True)]
    head = table[0]
    assert head[:3] == ["名次", "单位", "单位编码"], head
    assert "得分" in head and "红黑榜" in head and "基层评议均分" in head, head
    col = {h: i for i, h in enumerate(head)}
    assert [r[col["单位编码"]] for r in table[1:]] == [r["unit"] for r in rows]
    for cells, row in zip(table[1:], rows):
        rank = cells[col["名次"]]
        assert ("—" if rank is None else str(int(rank))) == row["rank"], (cells, row)
        assert cells[col["单位"]] == row["name"]
        assert row["figures"].keys() == names.keys(), (row["figures"], names)
        for figure, (count, rate) in row["figures"].items():
            name_zh = names[figure]
            assert int(cells[col[name_zh]]) == int(count), (name_zh, cells, row)
            if rate is not None:
                assert percent(cells[col[name_zh + "率"]]) == rate, (name_zh, cells, row)
        assert decimal(cells[col["基层评议均分"]]) == (row["avg"] or "—"), (cells, row)
        assert decimal(cells[col["得分"]]) == row["score"], (cells, row)
        assert (cells[col["红黑榜"]] or "") == row["listed"], (cells, row)
    notes = book.worksheets[1]
    assert notes.title == "说明"

    # The printable page holds the same table, without links.
    browser.get(browser.find_element(By.ID, "print-report").get_attribute("href"))
    printed = ranking_rows(browser)
    strip = lambda rs: [{k: v for k, v in r.items() if k != "tr"} for r in rs]  # noqa: E731
    assert strip(printed) == strip(rows)
    assert absent(browser, By.CSS_SELECTOR, "table#ranking a")
    screenshot(browser, "assessment-print.png")
    assert not console_errors(browser)


def test_county_admin_records_a_talk_on_an_accountability_record(demo, browser):
    login(browser, demo.url, ADMIN, demo.password(ADMIN))
    click_and_wait(browser, browser.find_element(By.ID, "nav-accountability"))
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/accountability"
    records = browser.find_elements(By.CSS_SELECTOR, "section.acc-record[data-decided='false']")
    assert records, "the demo has no undecided accountability record"
    record = records[0]
    rid = record.get_attribute("data-record")
    # Named by name, with the events that prove it.
    unit = record.find_element(By.CSS_SELECTOR, "td.unit")
    assert unit.text and unit.get_attribute("data-unit") not in unit.text.split(), unit.text
    assert record.find_elements(By.CSS_SELECTOR, "ol.events li.proof"), record.text
    assert record.find_element(By.CSS_SELECTOR, "td.trigger").text
    screenshot(browser, "accountability-open.png")

    record.find_element(By.CSS_SELECTOR, "input[name='decision'][value='talk']").click()
    record.find_element(By.CSS_SELECTOR, "textarea[name='note']").send_keys(NOTE)
    click_and_wait(browser, record.find_element(By.CSS_SELECTOR, "button.decide-submit"))
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(browser.current_url).query)
    assert query.get("show") == ["decided"] and query.get("saved") == [rid], browser.current_url
    done = browser.find_element(By.ID, f"acc-{rid}")
    assert done.get_attribute("data-decided") == "true"
    assert not absent(browser, By.CSS_SELECTOR, f"#acc-{rid} .acc-saved")
    decision = done.find_element(By.CSS_SELECTOR, "td.decision")
    assert decision.get_attribute("data-decision") == "talk" and decision.text == "约谈"
    assert done.find_element(By.CSS_SELECTOR, "td.note").text == NOTE
    assert demo.accounts[ADMIN].name.split()[0] in done.find_element(By.CSS_SELECTOR, "td.decided-by").text
    screenshot(browser, "accountability-decided.png")

    # No longer among the undecided; a second decision is refused, in Chinese.
    browser.get(demo.url + "/console/accountability")
    assert absent(browser, By.ID, f"acc-{rid}")
    status, _, body = post(
        browser,
        f"{demo.url}/console/accountability/{rid}/decide",
        {"decision": "notice", "note": "再次处理"},
    )
    assert status == 409, status
    assert "已作出处理决定" in body.decode()
    # A decision without a note is refused before anything is written.
    browser.get(demo.url + "/console/accountability")
    others = browser.find_elements(By.CSS_SELECTOR, "section.acc-record[data-decided='false']")
    if others:
        other = others[0].get_attribute("data-record")
        status, _, body = post(
            browser, f"{demo.url}/console/accountability/{other}/decide", {"decision": "talk", "note": " "}
        )
        assert status == 422 and "请填写处理说明" in body.decode(), status
    assert not console_errors(browser)


def test_a_department_sees_its_own_row_and_never_another_departments_cases(demo, browser):
    # Another department with cases in the period, as the county sees it.
    login(browser, demo.url, ADMIN, demo.password(ADMIN))
    browser.get(ranking_url(demo, "department"))
    rows = ranking_rows(browser)
    others = [r for r in rows if r["unit"] != OWN_DEPARTMENT and int(r["figures"]["received"][0]) > 0]
    assert others, "the demo has no department but urban_management with cases: nothing to refuse"
    other = others[0]["unit"]
    own = [r for r in rows if r["unit"] == OWN_DEPARTMENT]
    assert own, "urban_management has no row in the county's ranking"
    other_drill = f"{demo.url}/console/assessment/cases?kind=department&unit={other}&figure=received&{period()}"
    browser.get(other_drill)
    other_cases = [
        tr.get_attribute("data-id")
        for tr in browser.find_elements(By.CSS_SELECTOR, "table#drill-cases tr.case")
    ]
    assert other_cases, f"the county sees no case behind {other}'s received figure"
    click_and_wait(browser, browser.find_element(By.ID, "logout"))

    login(browser, demo.url, DEPARTMENT, demo.password(DEPARTMENT))
    assert not absent(browser, By.ID, "nav-assessment")
    assert absent(browser, By.ID, "nav-accountability")
    browser.get(ranking_url(demo, "department"))
    mine = ranking_rows(browser)
    assert [r["unit"] for r in mine] == [OWN_DEPARTMENT], [r["unit"] for r in mine]
    # Its true rank and figures, as the county sees them.
    assert mine[0]["rank"] == own[0]["rank"] and mine[0]["score"] == own[0]["score"]
    assert mine[0]["figures"] == own[0]["figures"]
    kinds = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#a-kind option")]
    assert kinds == ["department"], kinds
    screenshot(browser, "assessment-department.png")

    # Its own cases: as many as its figure.
    received = int(mine[0]["figures"]["received"][0])
    click_and_wait(
        browser,
        mine[0]["tr"].find_element(By.CSS_SELECTOR, "td.fig[data-figure='received'] a.count"),
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "table#drill-cases tr.case")) == received

    # Another department's: refused, and none of its cases shows.
    browser.get(other_drill)
    assert "无权查看" in browser.find_element(By.ID, "forbidden").text
    # The browser logs the 403 it was answered: expected here, so drained.
    console_errors(browser)
    page = browser.page_source
    for case_id in other_cases:
        assert case_id not in page, case_id
    status, _, body = fetch(browser, other_drill)
    assert status == 403, status
    for case_id in other_cases:
        assert case_id.encode() not in body
    # Nor through the areas, the report files or the accountability records.
    for path in (
        f"/console/assessment?kind=township&{period()}",
        f"/console/assessment.xlsx?kind=village&{period()}",
        "/console/accountability",
    ):
        status, _, _ = fetch(browser, demo.url + path)
        assert status == 403, (path, status)
    status, _, body = fetch(browser, f"{demo.url}/console/assessment.xlsx?kind=department&{period()}")
    assert status == 200
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).worksheets[0]
    codes = [r[2] for r in list(sheet.iter_rows(values_only=True))[1:]]
    assert codes == [OWN_DEPARTMENT], codes
    assert not console_errors(browser)


def test_a_township_scores_a_department_and_it_reaches_the_ranking(demo, browser):
    login(browser, demo.url, CLERK, demo.password(CLERK))
    browser.get(demo.url + "/console/assessment")
    click_and_wait(browser, browser.find_element(By.ID, "ratings-link"))
    assert urllib.parse.urlsplit(browser.current_url).path == "/console/assessment/ratings"
    month = browser.find_element(By.ID, "r-month").get_attribute("value")
    assert len(month) == 7 and month[4] == "-", month

    def rate(score: str, comment: str):
        browser.get(demo.url + "/console/assessment/ratings")
        browser.find_element(By.CSS_SELECTOR, f"#r-department option[value='{OWN_DEPARTMENT}']").click()
        browser.find_element(By.CSS_SELECTOR, f"#r-score option[value='{score}']").click()
        browser.find_element(By.ID, "r-comment").send_keys(comment)
        click_and_wait(browser, browser.find_element(By.ID, "r-submit"))
        assert not absent(browser, By.ID, "rating-saved")
        # Entered again for the month, the score replaces the first: one row.
        rows = browser.find_elements(
            By.CSS_SELECTOR, f"tr.rating[data-month='{month}'][data-department='{OWN_DEPARTMENT}']"
        )
        assert len(rows) == 1, [r.text for r in rows]
        assert "城市管理" in rows[0].text and comment in rows[0].text, rows[0].text
        assert rows[0].find_element(By.CSS_SELECTOR, "td.n").text == score

    # The county's ranking of the month, with the townships' average, in a browser of its own.
    county = new_browser()
    try:
        login(county, demo.url, ADMIN, demo.password(ADMIN))

        def average() -> float:
            county.get(f"{demo.url}/console/assessment?kind=department&month={month}")
            rows = {r["unit"]: r for r in ranking_rows(county)}
            assert rows[OWN_DEPARTMENT]["avg"] not in (None, "—"), rows[OWN_DEPARTMENT]
            return float(rows[OWN_DEPARTMENT]["avg"])

        rate("5", "响应及时，处置到位")
        high = average()
        rate("1", "签收慢，现场处置不彻底")
        screenshot(browser, "assessment-ratings.png")
        low = average()
        assert high > low, (high, low)
        # The county does not score departments.
        status, _, _ = fetch(county, demo.url + "/console/assessment/ratings")
        assert status == 403
    finally:
        county.quit()

    # Refused, in Chinese, nothing saved.
    for form, words in (
        ({"month": month, "department": OWN_DEPARTMENT, "score": "9"}, "评分须为 1 至 5 分"),
        ({"month": "2026-13", "department": OWN_DEPARTMENT, "score": "3"}, "评议月份无效"),
        ({"month": month, "department": "no_such_department", "score": "3"}, "请从目录中选择职能部门"),
    ):
        status, _, body = post(browser, demo.url + "/console/assessment/ratings", form)
        assert status == 422 and words in body.decode(), (form, status)
    browser.get(demo.url + "/console/assessment/ratings")
    row = browser.find_element(
        By.CSS_SELECTOR, f"tr.rating[data-month='{month}'][data-department='{OWN_DEPARTMENT}'] td.n"
    )
    assert row.text == "1"
