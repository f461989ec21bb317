"""The seed's timeline in Chromium: activity bars, dependency arrows, the critical path and the
forecast T-0; a slip on the critical path moves it, marking that work done puts it back.

Screenshots for a person to look at: /tmp/plan-1366.png, /tmp/plan-gantt-1366.png,
/tmp/plan-390.png.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from apps.launches.models import Activity, Launch
from tests.e2e.test_screenshots import OVERFLOW_JS, Watch, log_in, open_page

pytestmark = pytest.mark.django_db(transaction=True)
URL = "/launches/llm-research-lab/timeline/"


def _today_is_day(launch: Launch, day: int) -> Launch:
    """Shift the plan so that today is `day` days after the first day of week 1."""
    shift = timezone.now().date() - timedelta(days=day) - launch.start_date
    launch.start_date += shift
    launch.target_t0 += shift
    launch.save(update_fields=["start_date", "target_t0"])
    return launch


def test_the_timeline_shows_the_schedule_and_the_slip_that_moves_t0(demo, live_server, browser):
    launch = _today_is_day(demo, 43)  # compliance verification (critical) is 2 days late
    page = open_page(browser, 1366)
    watch = Watch(page)
    log_in(page, live_server, "pm@example.com")
    page.goto(f"{live_server.url}{URL}")
    chart = page.locator("svg.gantt")
    expect(chart.locator("g.activity")).to_have_count(35)
    edges = sum(len(a.after) for a in Activity.objects.all())
    expect(chart.locator("path.dependency")).to_have_count(edges)
    expect(chart.locator("g.activity.critical")).to_have_count(8)
    expect(chart.locator("path.dependency.critical")).to_have_count(7)
    bar = chart.locator('g.activity[data-key="compliance-verification"] rect.bar')
    assert bar.bounding_box()["width"] > 20  # a week is drawn wide enough to see
    expect(chart.locator("line.t0")).to_have_count(1)
    expect(chart.locator("line.forecast-t0")).to_have_count(1)
    forecast = launch.target_t0 + timedelta(days=2)
    expect(page.locator("p.forecast-t0")).to_contain_text(
        f"Forecast T-0: {forecast:%a %Y-%m-%d %H:%M} UTC (+2 d)."
    )
    expect(page.locator("p.forecast-t0")).to_contain_text("Compliance verification (5.4")
    expect(page.locator("p.forecast-t0")).to_contain_text("moves T-0 by 2 days")
    page.screenshot(path="/tmp/plan-1366.png", full_page=True)
    page.locator("figure.gantt-chart").screenshot(path="/tmp/plan-gantt-1366.png")

    # The program manager marks it done in the table: T-0 is back on plan.
    row = page.locator(f"#activity-{Activity.objects.get(key='compliance-verification').pk}")
    expect(row).to_have_class(re.compile(r"\bslipped\b"))
    row.locator("select[name=status]").select_option("done")
    row.locator("button[type=submit]").click()
    expect(row).not_to_have_class(re.compile(r"\bslipped\b"))  # swapped in by htmx
    page.reload()
    expect(page.locator("p.forecast-t0")).to_contain_text(
        f"Forecast T-0: {launch.target_t0:%a %Y-%m-%d %H:%M} UTC. No slipped activity moves T-0"
    )
    expect(page.locator("svg.gantt line.forecast-t0")).to_have_count(0)
    assert [e for e in watch.take() if "/favicon.ico" not in e] == []
    page.context.close()


def test_on_a_phone_the_chart_scrolls_in_its_box_and_the_page_does_not(demo, live_server, browser):
    _today_is_day(demo, 43)
    page = open_page(browser, 390)
    log_in(page, live_server, "pm@example.com")
    page.goto(f"{live_server.url}{URL}")
    page.wait_for_load_state("networkidle")
    box = page.evaluate(OVERFLOW_JS, 390)
    assert box["scrollWidth"] <= 391, box
    figure = page.locator("figure.gantt-chart")
    sizes = figure.evaluate("(el) => [el.scrollWidth, el.clientWidth]")
    assert sizes[0] > sizes[1]  # the Gantt keeps a readable width and scrolls inside its box
    page.screenshot(path="/tmp/plan-390.png", full_page=True)
    page.context.close()
