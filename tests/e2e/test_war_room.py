"""The war room in Chromium, against the live server: it reads on a 1920 px wall screen and a 390 px
phone without sideways scrolling, its live part refreshes by itself, a dropped connection says
"stale since ..." until answers come back, a reason being typed survives a refresh, and the
overview and the sign-off matrix refresh their live parts the same way.

The Atlas launch of tests/rollouts (T-0 half an hour away, a Go recorded by vera): ada, its launch
admin, started a run; its readings are stored as the worker stores them. Screenshots go to
/tmp/warroom-*.png for a person to look at.
"""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone
from playwright.sync_api import Page, expect

from apps.rollouts.models import AnalysisReading, RolloutCriterion, RolloutRun
from apps.rollouts.services import start_run
from tests.rollouts import conftest as rollouts
from tests.rollouts.conftest import decide

# The Atlas launch of tests/rollouts, its people and vera's Go: the same fixtures, reused.
launch_spec, launch = rollouts.launch_spec, rollouts.launch
people, go = rollouts.people, rollouts.go

pytestmark = pytest.mark.django_db(transaction=True)
PAGE = "/launches/atlas/war-room/"
WALL = {"viewport": {"width": 1920, "height": 1080}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}  # fmt: skip


def store(run, name: str, value, status: str, reason: str = "") -> None:
    rule = RolloutCriterion.objects.get(rollout__launch=run.launch, name=name)
    now = timezone.now()
    AnalysisReading.objects.create(
        run=run, stage=run.current_stage(), criterion=rule, kind=rule.kind, name=name,
        query=rule.query, comparator=rule.comparator, threshold=rule.threshold, unit=rule.unit,
        value=Decimal(str(value)), status=status, reason=reason, at=now, slot=now,
    )  # fmt: skip


@pytest.fixture
def run(launch, people, go):
    started = start_run(launch=launch, actor=people["ada"],
                        now=timezone.now() - timedelta(seconds=50))  # fmt: skip
    for p99, error in ((42, "0.2"), (48, "0.3"), (57, "0.25")):
        store(started, "error-rate", error, "passing")
        store(started, "latency-p99", p99, "passing")
        store(started, "error-rate-above-5", error, "passing")
    return started


@pytest.fixture
def open_as(browser, live_server):
    """Open a page in a fresh context signed in as `user` (the session cookie of a test client);
    closed after the test, so that no page of it polls into the next one."""
    contexts = []

    def open_page(user, device=WALL) -> Page:
        client = Client()
        client.force_login(user)
        context = browser.new_context(**device)
        contexts.append(context)
        context.set_default_timeout(10_000)
        context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                              "url": live_server.url}])  # fmt: skip
        page = context.new_page()
        page.problems = []
        page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
        page.on("pageerror", lambda e: page.problems.append(str(e)))
        return page

    yield open_page
    for context in contexts:
        context.close()


def refresh(page: Page, live_id: str) -> None:
    """Bring a live part's next poll forward, once htmx has taken in its latest answer (an
    outerHTML swap leaves the new element unwired until it settles)."""
    part = page.locator(f"#{live_id}")
    expect(part).not_to_have_class(re.compile(r"htmx-(added|settling|request)"))
    page.evaluate(f"htmx.trigger('#{live_id}', 'refresh')")


def sideways(page: Page) -> int:
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_the_room_reads_on_a_wall_screen_and_a_phone(open_as, live_server, people, run):
    store(run, "latency-p99", 150, "failing", "150 is not < 100")
    for name, device in (("1920", WALL), ("390", PHONE)):
        page = open_as(people["ada"], device)
        page.goto(f"{live_server.url}{PAGE}")
        expect(page.locator("#run-status")).to_have_text("Running")
        expect(page.locator("#t-clock")).to_have_text(re.compile(r"^T-00:[23]\d:\d\d$"))
        row = page.locator("#stage-latency-p99")
        expect(row.locator(".status")).to_have_text("failing")
        expect(row).to_contain_text("150 ms")
        assert row.locator("svg.spark").count() == 1
        expect(page.get_by_role("button", name="Roll back")).to_be_visible()
        assert sideways(page) <= 0, f"the war room scrolls sideways at {name} px"
        page.screenshot(path=f"/tmp/warroom-{name}.png", full_page=True)
        assert page.problems == [], page.problems  # a CSP violation is a console error


def test_the_live_part_refreshes_by_itself_and_the_clock_ticks(
    open_as,
    live_server,
    people,
    run,
):
    page = open_as(people["pat"])
    page.goto(f"{live_server.url}{PAGE}")
    page.evaluate("window.sameDocument = true")
    row = page.locator("#stage-latency-p99")
    expect(row).to_contain_text("57 ms")
    before = page.locator("#t-clock").inner_text()
    expect(page.locator("#t-clock")).not_to_have_text(before, timeout=3_000)  # it ticks

    store(run, "latency-p99", 180, "failing", "180 is not < 100")
    store(run, "error-rate-above-5", "7.5", "failing", "fired: 7.5 > 5")
    expect(row).to_contain_text("180 ms", timeout=12_000)  # one 5 s poll, with room to spare
    expect(row.locator(".status")).to_have_text("failing")
    expect(page.locator(".wr-alarm")).to_contain_text("error-rate-above-5 = 7.5 %")
    expect(page.locator("#trigger-error-rate-above-5 .status")).to_have_text("fired")
    assert page.evaluate("window.sameDocument === true"), "the page was reloaded"
    page.screenshot(path="/tmp/warroom-fired.png", full_page=True)
    assert page.problems == [], page.problems


def test_a_dropped_connection_says_stale_since_and_recovers(
    open_as,
    live_server,
    people,
    run,
):
    page = open_as(people["pat"])
    page.goto(f"{live_server.url}{PAGE}")
    banner = page.locator("[data-stale-for=war-room-live]")
    expect(banner).to_be_hidden()
    fresh_at = page.locator("#war-room-live").get_attribute("data-fresh-at")

    page.route("**/war-room/live/**", lambda route: route.abort("connectionrefused"))
    expect(banner).to_be_visible(timeout=12_000)
    since = fresh_at[11:19]  # the time of the last answer, HH:MM:SS UTC
    expect(banner).to_have_text(re.compile(rf"^Stale since {since} UTC: the portal is not answ"))
    expect(page.locator("#war-room-live")).to_have_class(re.compile(r"\bis-stale\b"))
    page.screenshot(path="/tmp/warroom-stale.png", full_page=True)

    page.unroute("**/war-room/live/**")
    store(run, "latency-p99", 61, "passing")
    expect(banner).to_be_hidden(timeout=12_000)
    expect(page.locator("#war-room-live")).not_to_have_class(re.compile(r"\bis-stale\b"))
    expect(page.locator("#stage-latency-p99")).to_contain_text("61 ms")

    page.route("**/war-room/live/**", lambda route: route.fulfill(status=502, body="Bad gateway"))
    expect(banner).to_be_visible(timeout=12_000)  # an error answer is no fresher
    expect(page.locator("#stage-latency-p99")).to_contain_text("61 ms")  # nothing swapped in


def test_a_reason_being_typed_survives_a_refresh_and_rolls_the_run_back(
    open_as,
    live_server,
    people,
    run,
):
    page = open_as(people["ada"])
    page.goto(f"{live_server.url}{PAGE}")
    reason = page.locator(f"#rollback-reason-{run.pk}")
    reason.fill("p99 climbing in eu-west")
    store(run, "latency-p99", 99, "passing")
    with page.expect_response(re.compile(r"/war-room/live/$"), timeout=12_000):
        pass  # the next poll comes back and replaces the live part around the form
    expect(page.locator("#stage-latency-p99")).to_contain_text("99 ms")
    expect(reason).to_have_value("p99 climbing in eu-west")
    page.get_by_role("button", name="Roll back").click()
    expect(page.locator(".messages")).to_contain_text(f"Rollout run {run.pk} is rolled back")
    expect(page.locator("#run-status")).to_have_text("Rollback")
    expect(page.get_by_role("button", name="Start rollout run")).to_be_visible()
    run.refresh_from_db()
    assert (run.status, run.reason) == ("rollback", "p99 climbing in eu-west")
    assert RolloutRun.objects.count() == 1
    assert page.problems == [], page.problems


def test_the_overview_and_the_matrix_refresh_their_live_parts(
    open_as,
    live_server,
    launch,
    people,
):
    page = open_as(people["pat"])
    page.goto(f"{live_server.url}/launches/atlas/")
    live = page.locator("#overview-live")
    expect(live).not_to_contain_text("Go/No-Go decision:")
    page.get_by_role("link", name="War room").wait_for()
    decide(launch, people, "go")
    refresh(page, "overview-live")  # the 15 s poll, brought forward
    expect(live).to_contain_text("Go/No-Go decision: Go", timeout=5_000)
    assert page.problems == [], page.problems  # (a refused request is a console error: below)

    page.route("**/launches/atlas/", lambda route: route.abort("connectionrefused"))
    refresh(page, "overview-live")
    expect(page.locator("[data-stale-for=overview-live]")).to_contain_text("Stale since")
    page.unroute("**/launches/atlas/")

    page.goto(f"{live_server.url}/launches/atlas/signoffs/")
    matrix = page.locator("#matrix-live")
    expect(matrix).to_contain_text("VP Engineering")
    with page.expect_response(re.compile(r"/launches/atlas/signoffs/$")) as answer:
        refresh(page, "matrix-live")
    assert answer.value.status == 200 and "<html" not in answer.value.text()
    expect(page.locator("[data-stale-for=matrix-live]")).to_be_hidden()
