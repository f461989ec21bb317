"""Rollout runs against a real Prometheus: a run walks its stages, a breach rolls it back at once,
no data is not healthy, a withdrawn Go stops it; every change is audited; each due analysis is
claimed once. Time moves by passing `now` (the readings are real, read when the test asks)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.rollouts import tasks
from apps.rollouts.models import AnalysisReading, RolloutRun
from apps.rollouts.services import RolloutRefused, analyse_run, start_run
from tests.rollouts.conftest import decide, scraped

pytestmark = pytest.mark.django_db
SECONDS = timedelta(seconds=1)


def _actions() -> list[str]:
    events = AuditEvent.objects.filter(action__startswith="rollout.").order_by("sequence")
    return list(events.values_list("action", flat=True))


def _stage(run: RolloutRun):
    run.refresh_from_db()
    return run.current_stage()


def test_a_run_started_by_the_launch_admin_walks_its_stages(launch, people, go, healthy,
                                                            real_prometheus):  # fmt: skip
    now = timezone.now()
    run = start_run(launch=launch, actor=people["ada"], now=now)
    assert (_stage(run).name, _stage(run).status) == ("canary-5", "analysing")

    readings = analyse_run(run_id=run.pk, now=now + 10 * SECONDS)
    assert {(r.kind, r.name, r.status, r.value) for r in readings} == {
        ("stage", "error-rate", "passing", Decimal("0.2")),
        ("stage", "latency-p99", "passing", Decimal("42")),
        ("trigger", "error-rate-above-5", "passing", Decimal("0.2")),
    }
    evidence = next(r for r in readings if r.name == "error-rate")
    assert evidence.query == 'max_over_time(error_rate{svc="api"}[10s])'  # {{window}} filled in
    assert evidence.detail["url"] == real_prometheus.url
    assert '"status":"success"' in evidence.detail["response"]

    analyse_run(run_id=run.pk, now=now + 20 * SECONDS)
    stage = _stage(run)  # two passes in a row, but the stage lasts a minute
    assert (stage.name, stage.status, stage.passes_in_row) == ("canary-5", "analysing", 2)
    analyse_run(run_id=run.pk, now=now + 60 * SECONDS)
    assert (_stage(run).name, _stage(run).status) == ("full", "analysing")  # nobody confirms

    analyse_run(run_id=run.pk, now=now + 70 * SECONDS)
    analyse_run(run_id=run.pk, now=now + 80 * SECONDS)
    run.refresh_from_db()
    assert (run.status, run.reason) == ("passed", "every stage passed")
    stage_passed = ["rollout.stage_started", "rollout.stage_passed"]
    assert _actions() == ["rollout.started", *stage_passed, *stage_passed, "rollout.passed"]
    assert AnalysisReading.objects.filter(run=run).count() == 3 * 3 + 2 * 2
    assert analyse_run(run_id=run.pk, now=now + 90 * SECONDS) == []  # an ended run is not read


def test_a_breach_rolls_the_run_back_at_once_and_tells_the_program_manager(
    launch, people, go, healthy, real_prometheus, django_capture_on_commit_callbacks
):
    now = timezone.now()
    run = start_run(launch=launch, actor=people["ada"], now=now)
    analyse_run(run_id=run.pk, now=now + 10 * SECONDS)
    healthy.set("error_rate", 7.25, svc="api")
    scraped(real_prometheus, 'error_rate{svc="api"}', "7.25")

    with django_capture_on_commit_callbacks(execute=True):
        analyse_run(run_id=run.pk, now=now + 20 * SECONDS)  # one interval later
    run.refresh_from_db()
    assert run.status == "rollback"
    assert run.reason == "rollback trigger fired: error-rate-above-5 fired: 7.25 > 5"
    event = AuditEvent.objects.get(action="rollout.rollback")
    assert (event.actor_name, event.data["stage"], event.data["reason"]) == (
        "worker", "canary-5", run.reason)  # fmt: skip
    [email] = mail.outbox
    assert email.to == ["pat@example.com"]
    assert "Rollout rollback: rollback trigger fired" in email.subject
    assert "at stage canary-5 (5% of the traffic)" in email.body


def test_no_data_is_not_healthy_the_stage_is_inconclusive(
    launch, people, go, healthy, real_prometheus
):
    healthy.remove("latency_p99")
    wait_for_empty(real_prometheus, 'latency_p99{svc="api"}')
    now = timezone.now()
    run = start_run(launch=launch, actor=people["ada"], now=now)
    [first] = [r for r in analyse_run(run_id=run.pk, now=now) if r.name == "latency-p99"]
    assert (first.status, first.reason) == ("unknown", "empty result: the query matched no series")
    analyse_run(run_id=run.pk, now=now + 10 * SECONDS)
    run.refresh_from_db()
    assert run.status == "inconclusive"
    assert run.reason == "stage canary-5 is inconclusive: 2 analyses inconclusive"
    assert "rollout.stage_inconclusive" in _actions()


def wait_for_empty(prometheus, query: str) -> None:
    from apps.gates.sources import SourceError
    from apps.gates.sources.prometheus import read
    from tests.gates.prometheus_server import wait_until

    def gone() -> bool:
        try:
            read(url=prometheus.url, query=query, timeout=2)
        except SourceError as error:
            return "empty result" in error.reason
        return False

    wait_until(gone, timeout=30, what=f"{query} to go stale")


def test_a_withdrawn_go_rolls_the_run_back_at_the_next_analysis(launch, people, go, settings):
    settings.PROMETHEUS_URL = ""  # no reading needed: the decision is checked first
    now = timezone.now()
    run = start_run(launch=launch, actor=people["ada"], now=now)
    decide(launch, people, "no-go")
    analyse_run(run_id=run.pk, now=now + 10 * SECONDS)
    run.refresh_from_db()
    assert run.status == "rollback"
    assert run.reason == "the Go was withdrawn: the decision in force is No-Go"


def test_a_run_starts_only_with_a_go_in_the_window_by_a_launch_admin(launch, people):
    now = timezone.now()
    with pytest.raises(RolloutRefused, match="no Go/No-Go decision is recorded"):
        start_run(launch=launch, actor=people["ada"], now=now)
    decide(launch, people, "go")
    with pytest.raises(RolloutRefused, match="only a launch admin starts a rollout"):
        start_run(launch=launch, actor=people["nora"], now=now)
    with pytest.raises(RolloutRefused, match="the T-0 window is .* UTC") as refused:
        start_run(launch=launch, actor=people["ada"], now=launch.target_t0 - timedelta(hours=2))
    assert refused.value.status == 403
    start_run(launch=launch, actor=people["ada"], now=now)
    with pytest.raises(RolloutRefused, match="already under way") as refused:
        start_run(launch=launch, actor=people["ada"], now=now)
    assert refused.value.status == 409
    decide(launch, people, "no-go")
    assert RolloutRun.objects.count() == 1


def test_the_tick_claims_a_due_run_once_and_a_redelivered_slot_stores_nothing(
    launch, people, go, settings, django_capture_on_commit_callbacks
):
    settings.PROMETHEUS_URL = ""
    run = start_run(launch=launch, actor=people["ada"], now=timezone.now() - 30 * SECONDS)
    with django_capture_on_commit_callbacks() as queued:
        assert tasks.tick() == 1
        assert tasks.tick() == 0  # its next analysis is one interval away
    assert len(queued) == 1
    run.refresh_from_db()
    assert run.next_due_at > timezone.now()
    slot = (timezone.now() - 30 * SECONDS).isoformat()
    assert tasks.analyse(run.pk, slot) == 3
    assert tasks.analyse(run.pk, slot) == 0  # the same slot, delivered again
    reading = AnalysisReading.objects.filter(run=run).first()
    assert (reading.status, reading.reason) == (
        "unknown", "source unreachable: no Prometheus configured (set PROMETHEUS_URL)")  # fmt: skip


def test_a_launch_admin_starts_a_run_from_the_command_line(launch, people, go, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="only a launch admin starts a rollout"):
        call_command("start_rollout", "atlas", "--admin", "nora")
    call_command("start_rollout", "atlas", "--admin", "ada")
    run = RolloutRun.objects.get()
    assert capsys.readouterr().out == f"run {run.pk} started: stage canary-5\n"
    assert (run.driver, run.started_by) == ("portal", "Ada")
