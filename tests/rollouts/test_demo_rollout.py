"""The demo's launch day (`make run`): a shortened rollout read from the demo metrics source walks
its stages in a few minutes; a demo admin can rehearse (T-0 moved to now) and arm a breach, and the
real rules still hold (the decision role records the Go; nobody else uses the controls)."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.demo.metrics import answer
from apps.launches.models import Launch
from apps.rollouts.demo import DEMO_SLUG, DemoRefused, rehearse_launch_day, set_breach
from apps.rollouts.models import RolloutStage, RunStatus, StageStatus
from apps.rollouts.services import RolloutRefused, analyse_run, start_run
from apps.signoffs.services import record_decision

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def demo(settings, live_server) -> Launch:
    settings.DEBUG = True
    settings.DEMO_METRICS = True
    settings.PROMETHEUS_URL = f"{live_server.url}/demo/prometheus"
    call_command("load_demo")
    return Launch.objects.get(slug=DEMO_SLUG)


def person(username: str):
    return get_user_model().objects.get(username=username)


def signed_in(username: str) -> Client:
    client = Client()
    client.force_login(person(username))
    return client


def go(launch: Launch):
    """The demo's decider records the Go: an override, since the demo's gates say NO-GO."""
    return record_decision(launch=launch, user=person("cto-ceo"), decision="go",
                           attendees="pm, cto-ceo", notes="", override=True,
                           override_reason="demo rehearsal")  # fmt: skip


def walk(run, start, *, until=timedelta(minutes=10), on_stage_passed=None):
    """Drive the analysis every 10 s from `start` until the run ends (or `until` elapses)."""
    now = start
    while now - start < until:
        now += timedelta(seconds=10)
        analyse_run(run_id=run.pk, now=now, slot=now)
        run.refresh_from_db()
        if on_stage_passed:
            on_stage_passed(run, now)
        if run.status != RunStatus.RUNNING:
            return now
    return now


def test_the_demo_rollout_is_shortened_only_with_the_demo_source(settings):
    settings.DEBUG = True
    settings.DEMO_METRICS = False
    call_command("load_demo")
    stages = RolloutStage.objects.filter(rollout__launch__slug=DEMO_SLUG)
    assert stages.get(name="canary-5").duration == timedelta(minutes=30)

    settings.DEMO_METRICS = True
    call_command("load_demo")
    durations = dict(stages.values_list("name", "duration"))
    assert durations == {"canary-5": timedelta(minutes=1), "canary-25": timedelta(minutes=1),
                         "canary-50": timedelta(minutes=1), "full": None}  # fmt: skip
    rollout = Launch.objects.get(slug=DEMO_SLUG).rollout
    assert (rollout.interval, rollout.count) == (timedelta(seconds=10), 2)
    assert AuditEvent.objects.filter(action="demo.rollout_shortened").count() == 1
    call_command("load_demo")  # again: nothing more to shorten, nothing more recorded
    assert AuditEvent.objects.filter(action="demo.rollout_shortened").count() == 1


def test_a_demo_run_passes_every_stage_in_a_few_minutes(demo):
    rehearse_launch_day(launch=demo, actor=person("admin"))
    go(demo)
    start = timezone.now()
    run = start_run(launch=demo, actor=person("admin"), now=start)
    ended = walk(run, start)
    assert run.status == RunStatus.PASSED, run.reason
    assert ended - start <= timedelta(minutes=4)
    assert set(run.stages.values_list("status", flat=True)) == {StageStatus.PASSED}
    readings = run.readings.all()
    assert readings.exists()
    assert not readings.exclude(status="passing").exists()  # healthy side, and no unknowns
    assert readings.filter(kind="trigger", name="error-rate-above-5").first().value < 5


def test_a_breach_armed_mid_run_rolls_the_next_stage_back(demo):
    rehearse_launch_day(launch=demo, actor=person("admin"))
    go(demo)
    start = timezone.now()
    run = start_run(launch=demo, actor=person("admin"), now=start)

    def arm_after_the_first_stage(run, now):
        first = run.stages.get(order=1)
        if (
            first.status == StageStatus.PASSED
            and not AuditEvent.objects.filter(action="demo.breach_armed").exists()
        ):
            set_breach(launch=demo, actor=person("admin"), on=True, now=now)

    walk(run, start, on_stage_passed=arm_after_the_first_stage)
    assert run.status == RunStatus.ROLLBACK
    assert "error-rate-above-5 fired: 7 > 5" in run.reason
    stages = dict(run.stages.values_list("name", "status"))
    assert stages["canary-5"] == StageStatus.PASSED
    assert stages["canary-25"] == StageStatus.ANALYSING  # rolled back during its analysis
    assert AuditEvent.objects.filter(action="rollout.rollback").exists()


def test_the_breach_is_off_by_default_and_can_be_turned_off(demo):
    rehearse_launch_day(launch=demo, actor=person("admin"))
    go(demo)
    set_breach(launch=demo, actor=person("admin"), on=True)
    set_breach(launch=demo, actor=person("admin"), on=False)
    start = timezone.now()
    run = start_run(launch=demo, actor=person("admin"), now=start)
    walk(run, start)
    assert run.status == RunStatus.PASSED


def test_rehearsing_opens_the_window_but_the_go_is_still_the_deciders(demo):
    before = demo.target_t0
    rehearse_launch_day(launch=demo, actor=person("admin"))
    demo.refresh_from_db()
    assert abs(demo.target_t0 - timezone.now()) < timedelta(minutes=1)
    event = AuditEvent.objects.get(action="demo.t0_moved")
    assert event.data["from"] == before.isoformat()
    with pytest.raises(RolloutRefused, match="no Go/No-Go decision"):
        start_run(launch=demo, actor=person("admin"))
    with pytest.raises(Exception, match="only a holder of the cto-ceo role"):
        record_decision(launch=demo, user=person("admin"), decision="go", attendees="x",
                        notes="", override=True, override_reason="I am admin")  # fmt: skip


def test_rehearsing_moves_the_on_call_rota_with_t0(demo):
    on_before = {(s.role, s.name) for s in demo.on_duty(demo.target_t0)}
    assert any(s.starts for s in demo.shifts())  # the seed's rota has timed shifts
    rehearse_launch_day(launch=demo, actor=person("admin"))
    demo.refresh_from_db()
    assert {(s.role, s.name) for s in demo.on_duty(demo.target_t0)} == on_before
    assert {(s.role, s.name) for s in demo.on_duty(timezone.now())} == on_before


def test_without_rehearsing_the_demo_t0_window_is_closed(demo):
    go(demo)
    with pytest.raises(RolloutRefused, match="the T-0 window is"):  # T-0 is weeks away
        start_run(launch=demo, actor=person("admin"))


def test_only_the_demo_admins_use_the_controls(demo):
    for username in ("cto-ceo", "pm", "vp-engineering"):
        with pytest.raises(DemoRefused, match="only a launch admin"):
            rehearse_launch_day(launch=demo, actor=person(username))
        with pytest.raises(DemoRefused):
            set_breach(launch=demo, actor=person(username), on=True)
    url = f"/launches/{DEMO_SLUG}/demo/launch-day/"
    assert signed_in("cto-ceo").post(url, {"action": "breach-on"}).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="demo.breach").exists()


def test_the_controls_do_not_exist_outside_the_demo(demo, settings):
    settings.DEMO_METRICS = False
    url = f"/launches/{DEMO_SLUG}/demo/launch-day/"
    assert signed_in("admin").get(url).status_code == 404
    assert signed_in("admin").post(url, {"action": "rehearse"}).status_code == 404
    with pytest.raises(DemoRefused, match="only in the demo"):
        rehearse_launch_day(launch=demo, actor=person("admin"))
    assert not AuditEvent.objects.filter(action="demo.t0_moved").exists()


def test_the_war_room_links_the_controls_for_the_demo_admins_only(demo, settings):
    war_room, controls = f"/launches/{DEMO_SLUG}/war-room/", "Demo: rehearse launch day"
    assert controls in signed_in("admin").get(war_room).content.decode()
    assert controls not in signed_in("pm").get(war_room).content.decode()
    settings.DEMO_METRICS = False
    assert controls not in signed_in("admin").get(war_room).content.decode()


def test_the_page_walks_a_demo_admin_through_launch_day(demo):
    admin = signed_in("admin")
    url = f"/launches/{DEMO_SLUG}/demo/launch-day/"
    page = admin.get(url).content.decode()
    assert "A run cannot start now: no Go/No-Go decision is recorded" in page
    assert "Breach off" in page
    go(demo)
    assert "A run cannot start now: the T-0 window is" in admin.get(url).content.decode()

    assert admin.post(url, {"action": "rehearse"}).status_code == 302
    assert "A run cannot start now" not in admin.get(url).content.decode()
    admin.post(url, {"action": "breach-on"})
    response = admin.post(url, {"action": "start"}, follow=True)
    page = response.content.decode()
    assert "Rollout run" in page and "started" in page
    assert "Breach on" in page
    assert demo.rollout_runs.get().status == RunStatus.RUNNING

    unknown = admin.post(url, {"action": "delete-everything"}, follow=True).content.decode()
    assert "Nothing done: unknown action" in unknown


def test_the_source_answers_the_rollout_queries_and_nothing_else(demo):
    filled = (
        '100 * (sum(rate(http_requests_total{job="llm-research-lab",code=~"5.."}[10s])) or '
        'vector(0)) / sum(rate(http_requests_total{job="llm-research-lab"}[10s]))'
    )
    status, body = answer(filled)
    assert status == 200
    assert float(body["data"]["result"][0]["value"][1]) < 0.1  # under every bound of the query
    baseline = f"last_over_time(({filled})[1m:1m] offset 7d)"
    assert answer(baseline)[1]["data"]["result"]
    assert answer(filled.replace("llm-research-lab", "other"))[1]["data"]["result"] == []
