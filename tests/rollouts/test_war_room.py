"""The war room of the Atlas launch (/launches/atlas/war-room/): who sees it, what its live part
says with no run, a run under way and a run rolled back, what its two buttons do and refuse, and
that it costs the same queries however many readings, stages or events the launch has.

ada is the launch admin, vera holds the decision role, pat is the program manager, otto the
auditor (he may look, not act), nora is assigned to nothing. Readings are stored as the worker
stores them (the analysis itself is tested against Prometheus in test_runs.py).
"""

import re
from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.rollouts.models import AnalysisReading, RolloutCriterion, RolloutRun, StageRun
from apps.rollouts.services import RolloutRefused, roll_back, start_run
from apps.rollouts.warroom import SPARK_READINGS, standing, t_clock, window_state
from apps.signoffs.models import Assignment, Duty
from tests.rollouts.conftest import decide
from tests.signoffs.conftest import make_user

pytestmark = pytest.mark.django_db
PAGE = "/launches/atlas/war-room/"
LIVE = "/launches/atlas/war-room/live/"
START = "/launches/atlas/war-room/start/"
ROLL_BACK = "/launches/atlas/war-room/roll-back/"
HX = {"HX-Request": "true"}


@pytest.fixture
def otto(launch):
    otto = make_user("otto")
    Assignment.objects.create(launch=launch, user=otto, duty=Duty.AUDITOR)
    return otto


def store(run, name: str, value, status: str, at, reason: str = "") -> AnalysisReading:
    """A reading of criterion `name` in the run's current stage, as analyse_run stores it."""
    rule = RolloutCriterion.objects.get(rollout__launch=run.launch, name=name)
    return AnalysisReading.objects.create(
        run=run, stage=run.current_stage(), criterion=rule, kind=rule.kind, name=name,
        query=rule.query, comparator=rule.comparator, threshold=rule.threshold, unit=rule.unit,
        value=None if value is None else Decimal(str(value)), status=status, reason=reason,
        at=at, slot=at,
    )  # fmt: skip


def row(html: str, row_id: str) -> str:
    """One criterion's or trigger's row of the live part."""
    found = re.search(rf'<tr class="([^"]*)" id="{row_id}">(.*?)</tr>', html, re.S)
    assert found, f"no row {row_id}"
    return " ".join(found.group(0).split())


def live(client) -> str:
    response = client.get(LIVE, headers=HX)
    assert response.status_code == 200
    assert response.headers["Cache-Control"].startswith("max-age=0")
    return response.content.decode()


# --- who sees it, who acts ----------------------------------------------------------------------


def test_someone_without_access_to_the_launch_gets_404_everywhere(client, launch, people, go):
    client.force_login(people["nora"])
    for url in (PAGE, LIVE):
        assert client.get(url).status_code == 404, url
    for url in (START, ROLL_BACK):
        assert client.post(url, {"reason": "x", "run": "1"}).status_code == 404, url
    assert RolloutRun.objects.count() == 0
    client.logout()
    assert client.get(LIVE).status_code == 302  # to the sign-in page


def test_a_viewer_sees_the_room_without_buttons_and_posting_anyway_is_refused(
    client, launch, people, go, otto
):
    client.force_login(otto)
    page = client.get(PAGE).content.decode()
    assert "War room" in page and 'id="war-room-live"' in page
    assert "Start rollout run" not in page and "Roll back" not in page
    assert client.post(START).status_code == 403
    assert RolloutRun.objects.count() == 0

    run = start_run(launch=launch, actor=people["ada"])
    assert "Roll back" not in live(client)
    for who in (otto, people["pat"], people["vera"]):  # the PM and the decider do not either
        client.force_login(who)
        response = client.post(ROLL_BACK, {"run": run.pk, "reason": "I think it is broken"})
        assert response.status_code == 403
    run.refresh_from_db()
    assert run.status == "running"
    assert not AuditEvent.objects.filter(action="rollout.rollback").exists()


def test_the_service_itself_refuses_a_rollback_by_anyone_but_a_launch_admin(launch, people, go):
    run = start_run(launch=launch, actor=people["ada"])
    with pytest.raises(RolloutRefused, match="only a launch admin rolls a run back") as refused:
        roll_back(run=run, actor=people["pat"], reason="by the back door")
    assert refused.value.status == 403
    run.refresh_from_db()
    assert run.status == "running"
    roll_back(run=run, actor="flagger", reason="the deploy tool's rollback")  # a tool: no person
    run.refresh_from_db()
    assert run.status == "rollback"


# --- what the live part says --------------------------------------------------------------------


def test_with_no_run_it_says_so_with_the_plan_the_triggers_and_who_is_on_duty(
    client, launch, people
):
    client.force_login(people["ada"])
    html = live(client)
    assert 'id="decision-standing">No decision<' in html
    assert 'id="run-status">No run<' in html
    assert "No rollout run has started yet." in html
    assert 'canary-5 <span class="small">5% · at least 1m 00s' in html
    trigger = row(html, "trigger-error-rate-above-5")
    assert "fires when &gt; 5 %" in trigger and "not read yet" in trigger
    assert "status-pending" in trigger
    assert "Would be refused now: no Go/No-Go decision is recorded." in html
    duty = html[html.index('id="wr-duty-title"') : html.index('id="wr-events-title"')]
    assert duty.index("Vera") < duty.index("Ada")  # the decider first
    assert "Decides the Go/No-Go (VP Engineering)" in duty
    assert "Launch admin: starts and rolls back the rollout" in duty
    assert "Program manager: emailed when a run rolls back" in duty
    assert "Nora" not in duty

    decide(launch, people, "go")  # an override: the gates are not all passing
    html = live(client)
    assert 'id="decision-standing">Go with override<' in html
    assert "by Vera" in html and "launch day rehearsal" in html
    assert "Would be refused now" not in html
    decide(launch, people, "no-go")
    assert 'id="decision-standing">No-Go<' in live(client)


def test_a_running_run_shows_its_stage_tally_values_verdicts_and_sparklines(
    client, launch, people, go
):
    now = timezone.now()
    run = start_run(launch=launch, actor=people["ada"], now=now - timedelta(seconds=95))
    for step, p99 in enumerate((42, 150, 60)):
        at = now - timedelta(seconds=30 - 10 * step)
        store(run, "error-rate", "0.2", "passing", at)
        store(run, "latency-p99", p99, "failing" if p99 >= 100 else "passing", at,
              "" if p99 < 100 else f"{p99} is not < 100")  # fmt: skip
        store(run, "error-rate-above-5", "0.2", "passing", at)
    StageRun.objects.filter(run=run, order=1).update(passes_in_row=1, failures=1, analyses=3)

    client.force_login(people["pat"])
    html = live(client)
    assert 'id="run-status">Running<' in html
    assert "Stage <strong>canary-5</strong> (1 of 2) at <strong>5%</strong>" in html
    assert '<meter class="wr-traffic" min="0" max="100" value="5"' in html
    assert re.search(r"<dd>1m 3\ds <span class=\"muted\">of 1m 00s at least", html)  # in the stage
    assert re.search(r"<dt>Failures</dt><dd class=\"wr-bad\">1 <span class=\"muted\">of 2 ", html)
    assert re.search(r"<dt>Passes in a row</dt><dd>1 <span class=\"muted\">of 2 needed", html)
    latency = row(html, "stage-latency-p99")
    assert "60 ms" in latency and "&lt; 100 ms" in latency
    assert "status-passing" in latency and "3 readings of the stage" in latency
    assert latency.count("<svg") == 1 and "<polyline" in latency
    trigger = row(html, "trigger-error-rate-above-5")
    assert "not fired" in trigger and "wr-fired" not in trigger
    assert "wr-alarm" not in html
    assert "Roll back" not in html  # pat is no launch admin


def test_a_rolled_back_run_shows_the_fired_trigger_and_why(client, launch, people, go):
    now = timezone.now()
    run = start_run(launch=launch, actor=people["ada"], now=now - timedelta(seconds=20))
    store(run, "error-rate", "0.2", "passing", now - timedelta(seconds=10))
    store(run, "error-rate-above-5", "0.2", "passing", now - timedelta(seconds=10))
    store(run, "error-rate-above-5", "7.25", "failing", now, "fired: 7.25 > 5")
    roll_back(run=run, actor="worker", reason="rollback trigger fired: error-rate-above-5")

    client.force_login(people["ada"])
    html = live(client)
    assert 'id="run-status">Rollback<' in html
    assert "rollback trigger fired: error-rate-above-5" in html
    assert '<p class="wr-alarm" role="alert"><strong>Rollback trigger fired:</strong> ' \
           "error-rate-above-5 = 7.25 % (&gt; 5 %)." in html  # fmt: skip
    trigger = row(html, "trigger-error-rate-above-5")
    assert "wr-fired" in trigger and ">fired<" in trigger and "7.25 %" in trigger
    assert "fired: 7.25 &gt; 5" in trigger
    assert "Roll back" not in html  # nothing under way to roll back
    assert "Start rollout run" in html  # a new run may be started
    events = html[html.index('id="wr-events-title"') :]
    assert f"worker · rolled run {run.pk} back: rollback trigger fired" in events


# --- the buttons --------------------------------------------------------------------------------


def _message(response) -> str:
    return " ".join(str(m) for m in response.context["messages"])


def test_the_start_button_starts_a_run_only_when_the_service_allows_it(client, launch, people):
    client.force_login(people["ada"])
    refused = client.post(START, follow=True)
    assert "Not started: no Go/No-Go decision is recorded." in _message(refused)
    assert 'class="message-error"' in refused.content.decode()
    decide(launch, people, "no-go")
    no_go = client.post(START, follow=True)
    assert "Not started: the decision in force is No-Go." in _message(no_go)
    decide(launch, people, "go")
    launch.target_t0 = timezone.now() + timedelta(hours=3)  # the window opens at T-1h
    launch.save(update_fields=["target_t0"])
    assert "Not started: the T-0 window is" in _message(client.post(START, follow=True))
    assert RolloutRun.objects.count() == 0

    launch.target_t0 = timezone.now() + timedelta(minutes=30)
    launch.save(update_fields=["target_t0"])
    started = client.post(START, follow=True)
    run = RolloutRun.objects.get()
    assert f"Rollout run {run.pk} started: stage canary-5 (5% of the traffic)." in _message(started)
    assert (run.status, run.driver, run.started_by) == ("running", "portal", "Ada")
    event = AuditEvent.objects.get(action="rollout.started")
    assert (event.actor_id, event.launch_slug) == (people["ada"].pk, "atlas")
    again = client.post(START, follow=True)
    assert "Not started: a rollout run is already under way." in _message(again)
    assert RolloutRun.objects.count() == 1
    assert client.get(START).status_code == 405  # a link cannot start a run


def test_roll_back_needs_a_reason_and_the_run_the_admin_saw(client, launch, people, go):
    run = start_run(launch=launch, actor=people["ada"])
    client.force_login(people["ada"])
    html = live(client)
    assert f'name="run" value="{run.pk}"' in html and "hx-preserve" in html
    for data, said in [
        ({"run": run.pk, "reason": "   "}, "say why the run is rolled back"),
        ({"run": run.pk, "reason": "x" * 1001}, "the reason is over 1000 characters"),
        ({"run": run.pk + 1000, "reason": "p99 climbing"}, "no such rollout run of this launch"),
        ({"run": "drop table", "reason": "p99 climbing"}, "no such rollout run"),
        ({"reason": "p99 climbing"}, "no such rollout run"),
    ]:
        response = client.post(ROLL_BACK, data, follow=True)
        assert f"Not rolled back: {said}." in _message(response), data
    run.refresh_from_db()
    assert run.status == "running"

    done = client.post(ROLL_BACK, {"run": run.pk, "reason": "  p99 climbing in eu-west  "},
                       follow=True)  # fmt: skip
    assert f"Rollout run {run.pk} is rolled back" in _message(done)
    run.refresh_from_db()
    assert (run.status, run.reason) == ("rollback", "p99 climbing in eu-west")
    event = AuditEvent.objects.get(action="rollout.rollback")
    assert (event.actor_id, event.data["reason"]) == (people["ada"].pk, "p99 climbing in eu-west")
    again = client.post(ROLL_BACK, {"run": run.pk, "reason": "again"}, follow=True)
    assert f"Not rolled back: run {run.pk} is no longer under way (rollback)." in _message(again)
    assert AuditEvent.objects.filter(action="rollout.rollback").count() == 1


# --- queries ------------------------------------------------------------------------------------


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, headers=HX).status_code == 200
    return len(ctx.captured_queries)


def test_the_live_part_costs_the_same_queries_for_3_readings_or_3000(
    client, launch, people, go, django_assert_max_num_queries
):
    now = timezone.now()
    run = start_run(launch=launch, actor=people["ada"], now=now - timedelta(minutes=20))
    for name in ("error-rate", "latency-p99", "error-rate-above-5"):
        store(run, name, 1, "passing", now - timedelta(minutes=19))
    client.force_login(people["ada"])
    few = {url: _queries(client, url) for url in (LIVE, PAGE)}
    # session, user, launch (with ada's holdings on it, which say whether she administers it),
    # rollout, newest run, its stages, the stage's rules and the triggers, their newest readings
    # (one windowed query), the decision in force, who is on duty, the newest events.
    assert few[LIVE] == 11, few

    stage = run.current_stage()
    rules = {r.name: r for r in RolloutCriterion.objects.filter(rollout__launch=launch)}
    AnalysisReading.objects.bulk_create(
        AnalysisReading(run=run, stage=stage, criterion=rule, kind=rule.kind, name=name,
                        query=rule.query, comparator=rule.comparator, threshold=rule.threshold,
                        unit=rule.unit, value=Decimal(step % 7), status="passing",
                        at=now - timedelta(seconds=step), slot=now - timedelta(seconds=step))
        for step in range(1000) for name, rule in rules.items() if name != "smoke"
    )  # fmt: skip
    for n in range(40):
        record(actor="test", action="test.noise", launch_slug="atlas", data={"n": n})
    for url, count in few.items():
        with django_assert_max_num_queries(count):
            assert client.get(url, headers=HX).status_code == 200
    html = live(client)
    assert f"{SPARK_READINGS} readings of the stage" in html  # drawn from a bounded number
    assert html.count('<li><span class="muted nowrap">') == 15  # the newest 15 events


# --- the clock, and the pages that poll too -----------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(hours=1), "T-01:00:00"),
        (timedelta(seconds=59.6), "T-00:01:00"),
        (timedelta(0), "T-00:00:00"),
        (-timedelta(hours=23, minutes=59, seconds=59), "T+23:59:59"),
        (timedelta(days=3, hours=4, seconds=5), "T-3d 04:00:05"),
        (-timedelta(days=1, minutes=1), "T+1d 00:01:00"),
    ],
)
def test_the_t_clock_reads_like_the_launch_plan(offset, text):
    now = timezone.now()
    assert t_clock(now + offset, now) == text


@pytest.mark.parametrize(
    ("decision", "override", "said"),
    [(None, False, "No decision"), ("go", False, "Go"), ("go", True, "Go with override"),
     ("no-go", False, "No-Go")],
)  # fmt: skip
def test_the_decision_standing_is_said_in_four_words(decision, override, said):
    made = SimpleNamespace(decision=decision, override=override) if decision else None
    assert standing(SimpleNamespace(current_decision=lambda: made)).label == said


def test_the_window_is_said_in_words():
    t0 = timezone.now()
    assert window_state(t0, t0 - timedelta(hours=2)).startswith("the launch-day window opens at")
    assert window_state(t0, t0).startswith("inside the launch-day window")
    assert window_state(t0, t0 + timedelta(hours=25)).startswith("the launch-day window closed")


def test_the_page_ticks_from_the_servers_clock_without_inline_script(client, launch, people, go):
    client.force_login(people["pat"])
    page = client.get(PAGE).content.decode()
    clock = re.search(r'<span class="wr-big" id="t-clock" data-countdown="([^"]+)" '
                      r'data-now="([^"]+)">(T-00:[23]\d:\d\d)</span>', page)  # fmt: skip
    assert clock, "no T clock"
    assert "<script>" not in page and "<script nonce" not in page
    assert 'data-stale-for="war-room-live"' in page and 'hx-trigger="every 5s, refresh"' in page


def test_the_overview_links_the_war_room_and_both_pages_serve_a_live_part(
    client, launch, people, go
):
    client.force_login(people["pat"])
    overview = client.get("/launches/atlas/").content.decode()
    assert f'href="{PAGE}">War room</a>' in overview
    assert 'id="overview-live" data-live' in overview
    assert 'data-stale-for="overview-live"' in overview
    part = client.get("/launches/atlas/", headers=HX).content.decode()
    assert part.lstrip().startswith('<div id="overview-live"') and "<html" not in part
    assert "Go/No-Go decision: <strong>Go</strong>" in part and "What blocks the launch" in part
    matrix = client.get("/launches/atlas/signoffs/").content.decode()
    assert 'id="matrix-live" data-live' in matrix and 'data-stale-for="matrix-live"' in matrix
    part = client.get("/launches/atlas/signoffs/", headers=HX).content.decode()
    assert "<html" not in part and 'id="matrix-live"' in part and "VP Engineering" in part
    assert "Sign-off requests" not in part  # its form is not refreshed under someone's typing
