"""The timeline shows the schedule: a bar per activity, dependency arrows, the critical path,
T-0, slack and forecast beside planned, and which slipped activity moves T-0 — in constant
queries, with the seed's 35 activities as with 400.

Time is set by moving the plan: `_today_is_day(n)` puts today on day n of week 1's count (the
seed's statuses reflect week 5, days 28-34).
"""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.gates import rows
from apps.launches.models import Activity, Launch
from apps.launches.timeline import build_plan

pytestmark = pytest.mark.django_db
SLUG = "llm-research-lab"
URL = f"/launches/{SLUG}/timeline/"
CRITICAL = ["k8s-cluster", "databases", "knowledge-transfer-1", "documentation-review",
            "compliance-verification", "licensing-clearance", "customer-onboarding-prep",
            "go-no-go"]  # fmt: skip


@pytest.fixture
def pm(client, settings):
    from apps.demo.loader import load_demo

    settings.DEBUG = True
    load_demo()
    user = get_user_model().objects.get(username="pm")
    client.force_login(user)
    return user


def _today_is_day(day: int) -> Launch:
    """Shift the launch so that today is `day` days after the first day of week 1."""
    launch = Launch.objects.get(slug=SLUG)
    shift = timezone.now().date() - timedelta(days=day) - launch.start_date
    launch.start_date += shift
    launch.target_t0 += shift
    launch.save(update_fields=["start_date", "target_t0"])
    return launch


def test_the_seed_timeline_draws_every_activity_its_arrows_and_the_critical_path(client, pm):
    _today_is_day(41)  # week 6: week 5's work is late, within its slack
    page = client.get(URL).content.decode()
    assert page.count('<g class="activity') == Activity.objects.count() == 35
    edges = sum(len(a.after) for a in Activity.objects.all())
    assert page.count('class="dependency') == edges
    drawn = re.findall(r'<g class="activity critical" data-key="([a-z0-9-]+)"', page)
    assert sorted(drawn) == sorted(CRITICAL)
    assert page.count('class="dependency critical"') == len(CRITICAL) - 1
    assert 'class="t0"' in page and ">T-0</text>" in page and ">today</text>" in page
    assert "No slipped activity moves T-0 (5 slipped, absorbed by slack" in page


def test_a_slip_on_the_critical_path_moves_the_forecast_t0_and_the_page_says_so(client, pm):
    launch = _today_is_day(43)  # compliance verification (week 6, blocked) is 2 days late
    page = client.get(URL).content.decode()
    planned = launch.target_t0
    forecast = planned + timedelta(days=2)
    assert f"Forecast T-0: {forecast:%a %Y-%m-%d %H:%M} UTC (+2 d)" in page
    assert (f"Compliance verification (5.4, planned to end "
            f"{launch.start_date + timedelta(days=41):%a %Y-%m-%d}, not done) moves T-0 "
            "by 2 days") in page  # fmt: skip
    assert 'class="forecast-t0"' in page  # the dashed line in the chart
    row = _row(page, "compliance-verification")
    assert "(+2 d)" in row and "critical path" in row and ">0 d<" in row


def test_a_slip_off_the_critical_path_within_its_slack_does_not_move_t0(client, pm):
    Activity.objects.filter(key="compliance-verification").update(status="done")
    launch = _today_is_day(43)  # security certification (week 6): 2 days late, 14 days slack
    page = client.get(URL).content.decode()
    assert f"Forecast T-0: {launch.target_t0:%a %Y-%m-%d %H:%M} UTC." in page
    assert "No slipped activity moves T-0" in page
    row = _row(page, "security-certification")
    assert "◆ slipped" in row and "(+2 d)" in row and ">14 d<" in row


def test_phases_get_a_forecast_finish_from_their_late_activities(pm):
    launch = _today_is_day(43)
    phases = list(launch.phases.prefetch_related("activities"))
    plan = build_plan(launch, phases, timezone.now().date())
    ends = {p.code: plan.phase_forecast_end(p) for p in phases}
    assert ends["5.3"] == 44  # week 5's late work ends today at the earliest (day 43)
    # The DR drill (week 7) waits for runbook testing: 9 days late, a week's gap between them.
    assert ends["5.4"] == 7 * 7 + 2
    assert ends["5.1"] == 2 * 7  # done as planned


def _row(page: str, key: str) -> str:
    activity = Activity.objects.get(key=key)
    match = re.search(rf'<tr id="activity-{activity.pk}".*?</tr>', page, re.S)
    return match.group(0)


def _count(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(URL).status_code == 200
    return len(queries.captured_queries)


def test_the_timeline_costs_the_same_queries_with_400_activities(client, pm):
    launch = Launch.objects.get(slug=SLUG)
    _count(client)  # warm: the session, the person
    rows.bump(
        launch.pk, rows.EVERYTHING
    )  # the plan's and the forecast's parts are drawn again (views.py)
    seed = _count(client)  # drawn from 35 activities
    phases = list(launch.phases.all())
    extra = [
        Activity(phase=phase, name=f"Extra {i}", key=f"extra-{i}", owner="Team",
                 planned_week=phase.end_week, start_week=phase.start_week,
                 after=[f"extra-{i - 1}"] if i % 7 else ["k8s-cluster"], order=100 + i)
        for i, phase in ((i, phases[i % len(phases)]) for i in range(365))
    ]  # fmt: skip
    Activity.objects.bulk_create(extra)
    rows.bump(
        launch.pk, rows.EVERYTHING
    )  # written around update_activity: the cached plan is told by hand
    assert Activity.objects.count() == 400
    with CaptureQueriesContext(connection) as queries:
        page = client.get(URL).content.decode()
    assert page.count('<g class="activity') == 400
    assert len(queries.captured_queries) == seed, [q["sql"][:90] for q in queries]
