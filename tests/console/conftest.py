"""Fixtures for the console's browser tests: a real `gridsync serve --demo` and headless Chromium.

Run through tools/test-console.sh, which builds the server and the Python bindings, installs
Chromium and chromedriver, and sets GRIDSYNC_BIN, GRIDSYNC_BINDINGS and GRIDSYNC_SCREENSHOTS.
"""

import os
import queue
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

BIN = os.environ.get("GRIDSYNC_BIN")
BINDINGS = os.environ.get("GRIDSYNC_BINDINGS")
SCREENSHOTS = Path(os.environ.get("GRIDSYNC_SCREENSHOTS") or "console-screenshots")

if not BIN or not BINDINGS:
    raise RuntimeError(
        "run these tests with tools/test-console.sh (GRIDSYNC_BIN and GRIDSYNC_BINDINGS unset)"
    )
sys.path.insert(0, BINDINGS)

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
LISTENING = "gridsync listening on "
SCOPE = re.compile(r"^\d{6}(/[0-9A-Za-z_-]+)*$")
# Seeding the demo county goes through the real sync path: a minute on a slow machine, a debug
# build is slower still.
START_TIMEOUT = 240
IMPLICIT_WAIT = 5


@dataclass
class Account:
    user: str
    role: str
    password: str
    scope: str
    name: str


@dataclass
class Demo:
    url: str
    accounts: dict = field(default_factory=dict)
    workdir: Path = None
    output: list = field(default_factory=list)

    def password(self, user: str) -> str:
        assert user in self.accounts, f"the demo printed no account {user!r}: {self.output}"
        return self.accounts[user].password


def parse_accounts(lines):
    """The account table `seed_demo` prints: a header `user role password scope / name`, then one
    row per account `user role password scope  name…`."""
    accounts = {}
    in_table = False
    for line in lines:
        words = line.split()
        if not words:
            continue
        if words[:3] == ["user", "role", "password"]:
            in_table = True
            continue
        if not in_table:
            continue
        # A row's scope is a jurisdiction path; the table ends at the first line without one
        # (`gridsync listening on …`, whose first word is no account).
        if len(words) < 4 or not SCOPE.match(words[3]):
            in_table = False
            continue
        user, role, password, scope = words[:4]
        accounts[user] = Account(user, role, password, scope, " ".join(words[4:]))
    return accounts


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    """`gridsync serve --demo` on a fresh SQLite database, on a free port of 127.0.0.1, with the
    supervision clock at its default (so overdue cases are supervised as in production). One for
    the whole run: seeding takes minutes in a debug build, and each module's tests leave alone
    what the others rely on."""
    workdir = tmp_path_factory.mktemp("demo")
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite://{workdir / 'gridsync.db'}",
        RUST_LOG="warn",
    )
    log = open(workdir / "server.log", "ab")
    proc = subprocess.Popen(
        [BIN, "serve", "--demo", "--listen", "127.0.0.1:0", "--blob-store", str(workdir / "blobs")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read_stdout():
        # Keeps draining stdout for the server's whole life, so it never blocks on a full pipe.
        for raw in proc.stdout:
            lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read_stdout, daemon=True).start()
    output = []
    url = None
    deadline = time.monotonic() + START_TIMEOUT
    while url is None:
        left = deadline - time.monotonic()
        try:
            line = lines.get(timeout=max(left, 0.01))
        except queue.Empty:
            line = None
        if line is None:
            proc.kill()
            proc.wait(timeout=30)
            log.close()
            stderr = (workdir / "server.log").read_text(errors="replace")[-4000:]
            raise RuntimeError(
                f"gridsync serve --demo did not start within {START_TIMEOUT}s: {output!r}\n{stderr}"
            )
        output.append(line)
        if line.startswith(LISTENING):
            url = line[len(LISTENING) :].strip()
    d = Demo(url=url, accounts=parse_accounts(output), workdir=workdir, output=output)
    assert {"ts.100", "med.100201", "gw.10020101", "county.admin"} <= d.accounts.keys(), output
    yield d
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
    proc.stdout.close()
    log.close()


def new_browser():
    options = Options()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(IMPLICIT_WAIT)
    return driver


@pytest.fixture
def browser():
    driver = new_browser()
    yield driver
    driver.quit()


def click_and_wait(browser, element, timeout=15):
    """Clicks something that loads another page (a submit button, a link) and waits until the new
    page has loaded. Marks the current page's window first and waits for a window without the
    mark: reliable even when the next page has the same URL, and untroubled by the transient
    errors Chrome answers while a page is being torn down."""
    browser.execute_script("window.__gridsyncOld = true")
    element.click()

    def loaded(driver):
        try:
            return driver.execute_script(
                "return window.__gridsyncOld === undefined && document.readyState === 'complete'"
            )
        except WebDriverException:
            return False

    WebDriverWait(browser, timeout, poll_frequency=0.1).until(loaded)


def login(browser, url: str, user: str, password: str):
    """Signs in on the console's sign-in page; the console then shows the case list."""
    browser.get(url + "/console/login")
    browser.find_element(By.ID, "user").send_keys(user)
    browser.find_element(By.ID, "password").send_keys(password)
    # The refusal is answered at the same URL: wait for the page to be replaced, then look.
    click_and_wait(browser, browser.find_element(By.ID, "submit"))
    if absent(browser, By.ID, "login-error"):
        assert "/console/login" not in browser.current_url, browser.current_url
    else:
        raise AssertionError(
            f"sign-in as {user} refused: {browser.find_element(By.ID, 'login-error').text}"
        )


def console_errors(browser):
    """The SEVERE entries of the browser's console since the last call (reading drains them)."""
    return [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]


def absent(browser, by, what) -> bool:
    """True when nothing matches, without waiting out the implicit wait."""
    browser.implicitly_wait(0)
    try:
        return not browser.find_elements(by, what)
    finally:
        browser.implicitly_wait(IMPLICIT_WAIT)


def screenshot(browser, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    assert browser.save_screenshot(str(path)), f"no screenshot {path}"
    return path


def fetch(browser, url: str):
    """GETs `url` outside the browser with the browser's session cookie: (status, headers, body)."""
    cookie = browser.get_cookie("gs_session")
    assert cookie, "the browser holds no gs_session cookie"
    req = urllib.request.Request(url, headers={"Cookie": f"gs_session={cookie['value']}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


# The list's count, "共 N 件".
LIST_TOTAL = re.compile(r"共\s*(\d+)\s*件")


def case_rows(browser):
    """The rows of the case list on this page (none when the page says there are no cases)."""
    browser.find_element(By.ID, "total")  # the page is there
    browser.implicitly_wait(0)
    try:
        return browser.find_elements(By.CSS_SELECTOR, "table#cases tr.case[data-id]")
    finally:
        browser.implicitly_wait(IMPLICIT_WAIT)


def total(browser) -> int:
    """The case list's count."""
    text = browser.find_element(By.ID, "total").text
    m = LIST_TOTAL.search(text)
    assert m, f"#total reads {text!r}, not 共 N 件"
    return int(m.group(1))
