"""Every page of the demo launch, in Chromium, on a laptop and on a phone.

For each page and viewport: a full-page screenshot under var/screenshots/ (for a person to look
at), and the checks a machine can make: HTTP 200, nothing wider than the screen (tables may
scroll inside their own box), no console errors (a Content-Security-Policy violation is one),
and every status written out as a label, not only shown as a colour.

Then the live gates table: a new reading shows up without a reload, and a hidden tab makes no
poll requests.
"""

import re
import time
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from apps.gates.models import Gate
from apps.gates.services import Reading, record_reading

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "launch-demo"
SLUG = "llm-research-lab"
LAUNCH = f"/launches/{SLUG}"
GATES = f"{LAUNCH}/gates/"

DESKTOP = {"viewport": {"width": 1366, "height": 768}}
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
VIEWPORTS = {1366: DESKTOP, 390: PHONE}

# The program manager may edit an activity's status: the label is then the selected option.
TIMELINE_STATUS = "table.activities .act, table.activities select[name=status]"

# label, path, what a status label looks like there (None: the page shows no status)
PM_PAGES = [
    ("launches", "/launches/", ".status"),
    ("overview", f"{LAUNCH}/", ".status"),
    ("timeline", f"{LAUNCH}/timeline/", TIMELINE_STATUS),
    ("gates", GATES, ".status"),
    ("gate-code-coverage", f"{GATES}code-coverage/", ".status"),
    ("signoffs", f"{LAUNCH}/signoffs/", ".status"),
    ("audit", f"{LAUNCH}/audit/", None),
    ("decision", f"{LAUNCH}/decision/", None),
]
SRE_PAGES = [("sign-sre-lead", f"{LAUNCH}/signoffs/sre-lead/sign/", ".status")]

# Whatever carries a status: every one of them must say it in words.
STATUS_SELECTOR = f".status, .act, .decision, .card[class*='status-'], {TIMELINE_STATUS}"

# The document is no wider than the viewport; if it is, name what sticks out (an element, or
# text that does not wrap) and is not inside a box that scrolls sideways on its own.
OVERFLOW_JS = """(width) => {
  const root = document.documentElement;
  const measured = {scrollWidth: root.scrollWidth, innerWidth: window.innerWidth};
  const scrolls = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (["auto", "scroll", "hidden"].includes(getComputedStyle(a).overflowX)) return true;
    }
    return false;
  };
  const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (typeof el.className === "string" && el.className.trim()
      ? "." + el.className.trim().split(/\\s+/).join(".") : "");
  // A mobile Chromium widens its layout viewport to fit what overflows: lay the page out at
  // the intended width again to find what is too wide.
  root.style.width = width + "px";
  const culprits = new Set();
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width && r.right > width + 1 && !scrolls(el)) {
      culprits.add(`${name(el)} right=${Math.round(r.right)}`);
    }
  }
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node; (node = texts.nextNode()); ) {
    range.selectNodeContents(node);
    const r = range.getBoundingClientRect();
    if (r.width && r.right > width + 1 && !scrolls(node)) {
      culprits.add(`text in ${name(node.parentElement)} right=${Math.round(r.right)}: ` +
        JSON.stringify(node.textContent.trim().slice(0, 60)));
    }
  }
  root.style.width = "";
  return {...measured, culprits: [...culprits].slice(0, 8)};
}"""

UNLABELLED_JS = """(selector) => Array.from(document.querySelectorAll(selector))
  .filter((el) => {
    const text = el.tagName === "SELECT" ? el.selectedOptions[0]?.textContent : el.textContent;
    return !(text || "").trim();
  })
  .map((el) => el.outerHTML.slice(0, 160))"""


class Watch:
    """What the browser complains about while a page loads: console errors, page errors, 4xx/5xx."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("requestfailed", self._failed)
        page.on("response", self._response)

    def _failed(self, request) -> None:
        # A request the next navigation cut off (Chromium's favicon fetch, often) is not the
        # page's fault; a missing file shows as its 4xx response below, a dead server otherwise.
        if request.failure != "net::ERR_ABORTED":
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def _console(self, message) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.errors.append(f"console: {message.text}" + (f" ({where})" if where else ""))

    def _response(self, response) -> None:
        if response.status >= 400:
            self.errors.append(f"HTTP {response.status}: {response.url}")

    def take(self) -> list[str]:
        errors, self.errors[:] = list(self.errors), []
        return errors

    def errors_besides_the_favicon(self) -> list[str]:
        """For the live tests: the missing /favicon.ico is the page test's finding, not theirs."""
        return [error for error in self.take() if "/favicon.ico" not in error]


def open_page(browser, width: int) -> Page:
    context = browser.new_context(**VIEWPORTS[width])
    context.set_default_timeout(10_000)
    return context.new_page()


def log_in(page: Page, live_server, email: str) -> None:
    """Through the real login form, as a person would."""
    page.goto(f"{live_server.url}/accounts/login/?next=/launches/")
    form = page.locator("form").filter(has=page.locator("input[name=login]"))
    form.locator("input[name=login]").fill(email)
    form.locator("input[name=password]").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    expect(page).to_have_url(f"{live_server.url}/launches/")


def check_page(page: Page, watch: Watch, live_server, width, label, path, status_selector, shoot):
    """Visit one page; return what is wrong with it (empty when nothing is)."""
    where = f"{width}-{label} {path}"
    problems = []
    watch.take()
    response = page.goto(f"{live_server.url}{path}")
    page.wait_for_load_state("networkidle")
    shoot(page, f"{width}-{label}")

    if response is None or response.status != 200:
        problems.append(f"{where}: HTTP {response.status if response else 'no response'}")
    if page.url != f"{live_server.url}{path}":
        problems.append(f"{where}: ended up at {page.url}")

    box = page.evaluate(OVERFLOW_JS, width)
    if box["scrollWidth"] > min(box["innerWidth"], width) + 1:
        problems.append(
            f"{where}: page is {box['scrollWidth']}px wide at a {width}px viewport "
            f"(innerWidth {box['innerWidth']}); sticking out: {box['culprits']}"
        )

    problems += [f"{where}: {error}" for error in watch.take()]

    if status_selector and page.locator(status_selector).count() == 0:
        problems.append(f"{where}: no status label ({status_selector}) on the page")
    problems += [
        f"{where}: status without a text label: {html}"
        for html in page.evaluate(UNLABELLED_JS, STATUS_SELECTOR)
    ]
    return problems


@pytest.mark.parametrize("width", [1366, 390])
def test_every_page_at_two_viewports(demo, live_server, browser, screenshot, width):
    problems = []
    for email, pages in [("pm@example.com", PM_PAGES), ("sre-lead@example.com", SRE_PAGES)]:
        page = open_page(browser, width)
        try:
            watch = Watch(page)
            log_in(page, live_server, email)
            problems += [f"{width}-login: {error}" for error in watch.take()]
            for label, path, status_selector in pages:
                problems += check_page(
                    page, watch, live_server, width, label, path, status_selector, screenshot
                )
        finally:
            page.context.close()
    assert not problems, "\n".join(problems)


# --- the live gates table ----------------------------------------------------------------------


def gate_row(page: Page, key: str):
    link = page.locator(f"a[href$='/gates/{key}/']")
    return page.locator("#gate-rows tr").filter(has=link)


def is_poll(request) -> bool:
    """The gates table asking for its rows (not a gate's own page)."""
    return request.method == "GET" and request.url.split("?")[0].endswith(GATES)


def test_the_gates_page_shows_every_gate_the_rest_by_htmx(demo, live_server, page):
    """The page carries its first rows; htmx brings the others in at once, in order, with no
    error and no second page load (issue 21: fewer bytes with the page)."""
    from apps.pages.gate_views import FIRST_ROWS

    keys = list(Gate.objects.filter(launch=demo).active().order_by("order", "key")
                .values_list("key", flat=True))  # fmt: skip
    assert len(keys) > FIRST_ROWS, "the demo launch should have more gates than the first rows"
    watch = Watch(page)
    log_in(page, live_server, "pm@example.com")
    page.goto(f"{live_server.url}{GATES}")
    expect(page.locator("#gate-rows-rest")).to_have_count(0)
    links = page.locator("#gate-rows tr td:nth-child(2) > a")
    expect(links).to_have_count(len(keys))
    shown = [href.rstrip("/").rsplit("/", 1)[1] for href in
             links.evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")]  # fmt: skip
    assert shown == keys
    assert watch.errors_besides_the_favicon() == []


def test_a_new_reading_shows_up_on_the_gates_page_without_a_reload(
    demo, live_server, page, screenshot
):
    gate = Gate.objects.get(launch=demo, key="code-coverage")
    assert (gate.comparator, gate.threshold) == (">=", Decimal(85))
    watch = Watch(page)
    log_in(page, live_server, "pm@example.com")
    page.goto(f"{live_server.url}{GATES}")
    row = gate_row(page, "code-coverage")
    expect(row).to_have_count(1)
    before = row.locator(".status").inner_text().strip().lower()
    assert before != "failing", before
    page.evaluate("window.__sameDocument = true")
    navigations = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    # 1. The 15 s poll brings the failing reading in, within 20 s.
    started = time.monotonic()
    record_reading(gate=gate, reading=Reading(value=Decimal(50)), actor="test")
    expect(row.locator(".status")).to_have_text(re.compile("failing", re.I), timeout=20_000)
    polled_after = time.monotonic() - started
    expect(row.locator(".status-failing")).to_have_count(1)
    expect(row).to_contain_text("50")
    screenshot(page, "1366-gates-live-failing")

    # 2. The `refresh` event brings the next reading in at once (the next poll is ~15 s away).
    record_reading(gate=gate, reading=Reading(value=Decimal(90)), actor="test")
    gate.refresh_from_db()
    now = gate.current_status()[0]
    assert now != "failing", now
    started = time.monotonic()
    page.evaluate("htmx.trigger('#gate-rows', 'refresh')")
    expect(row.locator(".status")).to_have_text(re.compile(now, re.I), timeout=3_000)
    refreshed_after = time.monotonic() - started

    assert page.evaluate("window.__sameDocument === true"), "the page was reloaded"
    assert navigations == [], navigations
    assert watch.errors_besides_the_favicon() == []
    print(f"poll: failing after {polled_after:.1f}s; refresh: {now} after {refreshed_after:.1f}s")


# What the browser does when the tab goes to the background or comes back.
SET_VISIBILITY = """(state) => {
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => state});
  Object.defineProperty(document, "hidden", {configurable: true, get: () => state === "hidden"});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


def test_a_hidden_tab_does_not_poll_and_catches_up_when_shown(demo, live_server, page):
    watch = Watch(page)
    log_in(page, live_server, "pm@example.com")
    page.goto(f"{live_server.url}{GATES}")
    expect(page.locator("#gate-rows tr").first).to_be_visible()
    expect(page.locator("#gate-rows-rest")).to_have_count(0)  # the rest of the rows came
    polls = []
    page.on("request", lambda request: polls.append(time.monotonic()) if is_poll(request) else None)

    page.evaluate(SET_VISIBILITY, "hidden")
    page.wait_for_timeout(17_000)  # longer than the 15 s poll
    assert polls == [], f"{len(polls)} poll request(s) while the tab was hidden"

    shown = time.monotonic()
    page.evaluate(SET_VISIBILITY, "visible")
    page.wait_for_timeout(2_000)
    assert len(polls) == 1 and polls[0] - shown < 2, "a shown tab should catch up at once"

    # ...and polling goes on as before (not stopped for good by the hidden spell).
    page.wait_for_timeout(15_500)
    assert len(polls) >= 2, "no poll within 15 s after the tab was shown again"
    assert watch.errors_besides_the_favicon() == []
