"""Post-launch validation on the Atlas launch (8.5): its window opens when the run passes its last
stage (or ada, the launch admin, opens it); each check is read like a gate with the same query
`baseline_offset` earlier, from a real Prometheus; when the window has elapsed the validation is
passed, failed or inconclusive. Time moves by passing slots; readings are real."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.launches.models import LaunchClosed
from apps.rollouts import tasks
from apps.rollouts.models import PostLaunchReading, PostLaunchValidation
from apps.rollouts.postlaunch import (
    ValidationRefused,
    analyse_validation,
    baseline_query,
    change,
    claim_due,
    final_verdict,
    post_launch_summary,
    query_window,
    read_prometheus,
    start_validation,
)
from apps.rollouts.services import analyse_run, start_run
from tests.rollouts.conftest import scraped
from tests.rollouts.test_runs import wait_for_empty

pytestmark = pytest.mark.django_db
SECONDS = timedelta(seconds=1)
POST_LAUNCH = {
    "window": "2m",
    "baseline_offset": "1h",
    "checks": [
        {"name": "error-rate", "query": 'max_over_time(error_rate{svc="api"}[{{window}}])',
         "comparator": "<", "threshold": 1, "unit": "%"},
        # `or vector(0)` like the seed's queries: the baseline must shift it too.
        {"name": "latency-p99", "query": 'max(latency_p99{svc="api"}) or vector(0)',
         "comparator": "<", "threshold": 100, "unit": "ms"},
    ],
}  # fmt: skip


@pytest.fixture
def launch_spec(launch_spec):
    launch_spec["rollout"]["post_launch"] = POST_LAUNCH
    return launch_spec


def _passed_run(people, launch, now):
    """A run the launch admin starts, walked through both stages (as in test_runs)."""
    run = start_run(launch=launch, actor=people["ada"], now=now)
    for seconds in (10, 20, 60, 70, 80):
        analyse_run(run_id=run.pk, now=now + seconds * SECONDS)
    run.refresh_from_db()
    assert run.status == "passed"
    return run


def _actions() -> list[str]:
    events = AuditEvent.objects.filter(action__startswith="postlaunch.").order_by("sequence")
    return list(events.values_list("action", flat=True))


# --- the rules ------------------------------------------------------------------------------------


def test_the_baseline_query_offsets_the_whole_expression():
    query = 'sum(rate(x{a="b"}[5m])) or vector(0)'
    assert baseline_query(query, timedelta(days=7)) == (
        'last_over_time((sum(rate(x{a="b"}[5m])) or vector(0))[1s:1s] offset 1w)'
    )
    assert baseline_query("up", timedelta(seconds=90)).endswith("offset 90s)")


def test_the_window_of_a_check_grows_with_the_validation_up_to_its_end():
    start = timezone.now()
    end, interval = start + timedelta(hours=24), timedelta(minutes=1)

    def window(after):
        return query_window(started_at=start, ends_at=end, slot=start + after, interval=interval)

    assert window(timedelta(0)) == interval  # never an empty range
    assert window(timedelta(hours=3, milliseconds=700)) == timedelta(hours=3)
    assert window(timedelta(hours=30)) == timedelta(hours=24)  # a late last analysis


@pytest.mark.parametrize(
    ("final", "failures", "inconclusives", "expected"),
    [
        ({"a": "passing", "b": "passing"}, 1, 1,
         ("passed", "every check passing at the end of the window (2)")),
        ({"a": "failing", "b": "unknown"}, 0, 0, ("failed", "failing at the end of the window: a")),
        ({"a": "passing"}, 2, 0, ("failed", "2 analyses failed (limit 2)")),
        ({"a": "passing", "b": "unknown"}, 0, 1,
         ("inconclusive", "unknown at the end of the window: b")),
        ({"a": "passing"}, 0, 2, ("inconclusive", "2 analyses were unknown (limit 2)")),
        ({}, 0, 0, ("inconclusive", "no post-launch check was read")),
    ],
)  # fmt: skip
def test_the_verdict_when_the_window_has_elapsed(final, failures, inconclusives, expected):
    found = final_verdict(final, failures=failures, inconclusives=inconclusives,
                          failure_limit=2, inconclusive_limit=2)  # fmt: skip
    assert found == expected


def test_the_change_from_the_baseline():
    assert change(Decimal("42"), Decimal("40")) == (Decimal("2"), Decimal("5.00"))
    assert change(Decimal("0.5"), Decimal("-1")) == (Decimal("1.5"), Decimal("150.00"))
    assert change(Decimal("3"), Decimal("0")) == (Decimal("3"), None)
    assert change(None, Decimal("1")) == (None, None)


# --- against a real Prometheus --------------------------------------------------------------------


def test_the_baseline_query_reads_the_value_from_offset_earlier(healthy, real_prometheus):
    time.sleep(8)  # 0.2 stands for several scrapes
    healthy.set("error_rate", 3.5, svc="api")
    scraped(real_prometheus, 'error_rate{svc="api"}', "3.5")
    query = 'max(max_over_time(error_rate{svc="api"}[2s])) or vector(0)'

    now, error, _ = read_prometheus(query)
    before, baseline_error, detail = read_prometheus(baseline_query(query, 5 * SECONDS))
    assert (now, error) == (Decimal("3.5"), "")
    assert (before, baseline_error) == (Decimal("0.2"), "")
    assert "offset 5s" in detail["query"]
    # No data that long ago is no baseline, said so (the check itself is judged on its own).
    nothing, why, _ = read_prometheus(baseline_query('error_rate{svc="api"}', timedelta(hours=1)))
    assert (nothing, why) == (None, "empty result: the query matched no series")


def test_a_passed_run_opens_the_window_which_passes_when_every_check_holds_at_its_end(
    launch, people, go, healthy, real_prometheus
):
    now = timezone.now()
    run = _passed_run(people, launch, now)
    validation = PostLaunchValidation.objects.get()
    # The worker's analysis passed the last stage: the window opens in the same transaction.
    assert (validation.run, validation.status, validation.started_by) == (run, "running", "worker")
    assert validation.ends_at - validation.started_at == timedelta(minutes=2)
    assert post_launch_summary(launch).state == "running"

    first = analyse_validation(
        validation_id=validation.pk, slot=validation.started_at + 30 * SECONDS
    )
    assert {(r.name, r.status, r.value, r.baseline) for r in first} == {
        ("error-rate", "passing", Decimal("0.2"), None),  # no data an hour before
        ("latency-p99", "passing", Decimal("42"), Decimal("0")),  # `or vector(0)`, offset too
    }
    reading = next(r for r in first if r.name == "error-rate")
    assert reading.query == 'max_over_time(error_rate{svc="api"}[30s])'
    assert reading.baseline_query == (
        'last_over_time((max_over_time(error_rate{svc="api"}[30s]))[1s:1s] offset 1h)'
    )
    assert reading.baseline_reason == "empty result: the query matched no series"

    analyse_validation(validation_id=validation.pk, slot=validation.ends_at)
    validation.refresh_from_db()
    assert (validation.status, validation.analyses) == ("passed", 2)
    assert validation.reason == "every check passing at the end of the window (2)"
    assert _actions() == ["postlaunch.started", "postlaunch.passed"]
    event = AuditEvent.objects.get(action="postlaunch.passed")
    assert event.data["checks"]["latency-p99"] == {"value": "42", "baseline": "0",
                                                   "status": "passing"}  # fmt: skip
    summary = post_launch_summary(launch)
    assert (summary.state, summary.window_end) == ("passed", validation.ends_at)
    assert [(row.name, row.value_text, row.status) for row in summary.rows] == [
        ("error-rate", "0.2 %", "passing"), ("latency-p99", "42 ms", "passing")]  # fmt: skip
    assert analyse_validation(validation_id=validation.pk, slot=validation.ends_at) == []


def test_each_reading_keeps_its_baseline_and_the_table_shows_the_change(
    launch, people, healthy, real_prometheus
):
    launch.rollout.baseline_offset = 5 * SECONDS  # a week cannot pass in a test: 5 s can
    launch.rollout.save()
    validation = start_validation(launch=launch, actor=people["ada"])
    time.sleep(8)
    healthy.set("latency_p99", 63, svc="api")
    scraped(real_prometheus, 'latency_p99{svc="api"}', "63")

    analyse_validation(validation_id=validation.pk, slot=validation.started_at + 10 * SECONDS)
    reading = PostLaunchReading.objects.get(name="latency-p99")
    assert (reading.value, reading.baseline) == (Decimal("63"), Decimal("42"))
    assert reading.baseline_query == (
        'last_over_time((max(latency_p99{svc="api"}) or vector(0))[1s:1s] offset 5s)'
    )
    row = next(r for r in post_launch_summary(launch).rows if r.name == "latency-p99")
    assert (row.change, row.change_percent) == (Decimal("21"), Decimal("50.00"))
    assert (row.value_text, row.baseline_text, row.change_text) == (
        "63 ms", "42 ms", "+21 ms (+50.00%)")  # fmt: skip


def test_no_data_at_the_end_of_the_window_is_inconclusive_not_healthy(
    launch, people, healthy, real_prometheus
):
    launch.rollout.criteria.filter(name="error-rate").update(query='error_rate{svc="api"}')
    validation = start_validation(launch=launch, actor=people["ada"])
    healthy.remove("error_rate")
    wait_for_empty(real_prometheus, 'error_rate{svc="api"}')
    analyse_validation(validation_id=validation.pk, slot=validation.ends_at)
    validation.refresh_from_db()
    assert (validation.status, validation.reason) == (
        "inconclusive", "unknown at the end of the window: error-rate")  # fmt: skip
    assert _actions() == ["postlaunch.started", "postlaunch.inconclusive"]


def test_a_check_failing_at_the_end_fails_the_validation(launch, people, healthy, real_prometheus):
    validation = start_validation(launch=launch, actor=people["ada"])
    analyse_validation(validation_id=validation.pk, slot=validation.started_at + 10 * SECONDS)
    healthy.set("latency_p99", 180, svc="api")
    scraped(real_prometheus, 'latency_p99{svc="api"}', "180")
    analyse_validation(validation_id=validation.pk, slot=validation.ends_at)
    validation.refresh_from_db()
    assert (validation.status, validation.reason, validation.failures) == (
        "failed", "failing at the end of the window: latency-p99", 1)  # fmt: skip
    row = next(r for r in post_launch_summary(launch).rows if r.name == "latency-p99")
    assert (row.status, row.reason) == ("failing", "180 is not < 100")


# --- who starts it, and the tick ------------------------------------------------------------------


def test_only_a_launch_admin_starts_it_and_only_one_runs_at_a_time(launch, people):
    with pytest.raises(ValidationRefused, match="only a launch admin") as refused:
        start_validation(launch=launch, actor=people["pat"])
    assert refused.value.status == 403
    start_validation(launch=launch, actor=people["ada"])
    with pytest.raises(ValidationRefused, match="already under way") as refused:
        start_validation(launch=launch, actor=people["ada"])
    assert refused.value.status == 409
    assert PostLaunchValidation.objects.count() == 1
    assert _actions() == ["postlaunch.started"]


def test_a_launch_without_post_launch_checks_has_nothing_to_validate(launch, people):
    launch.rollout.criteria.filter(kind="post_launch").delete()
    with pytest.raises(ValidationRefused, match="no rollout.post_launch checks") as refused:
        start_validation(launch=launch, actor=people["ada"])
    assert refused.value.status == 404
    summary = post_launch_summary(launch)
    assert (summary.state, summary.has_checks, summary.rows) == ("not_started", False, [])


def test_the_summary_before_the_start_lists_the_checks(launch):
    summary = post_launch_summary(launch)
    assert (summary.state, summary.state_text, summary.window_text) == (
        "not_started", "Not started", "2m")  # fmt: skip
    assert [(r.name, r.rule, r.value_text) for r in summary.rows] == [
        ("error-rate", "< 1 %", "none"), ("latency-p99", "< 100 ms", "none")]  # fmt: skip


def test_the_tick_claims_each_due_analysis_once_and_the_last_at_the_window_end(
    launch, people, settings, django_capture_on_commit_callbacks
):
    settings.PROMETHEUS_URL = ""
    validation = start_validation(launch=launch, actor=people["ada"],
                                  now=timezone.now() - 115 * SECONDS)  # fmt: skip
    with django_capture_on_commit_callbacks() as queued:
        assert tasks.post_launch_tick() == 1
        assert tasks.post_launch_tick() == 0
    assert len(queued) == 1
    validation.refresh_from_db()
    assert validation.next_due_at == validation.ends_at  # the window ends before the interval
    slot = validation.started_at.isoformat()
    assert tasks.analyse_post_launch(validation.pk, slot) == 2
    assert tasks.analyse_post_launch(validation.pk, slot) == 0  # delivered again

    claimed = claim_due(validation.ends_at + SECONDS)
    assert claimed == [(validation.pk, validation.ends_at)]
    validation.refresh_from_db()
    assert validation.next_due_at is None  # nothing after the last
    analyse_validation(validation_id=validation.pk, slot=validation.ends_at)
    validation.refresh_from_db()
    assert validation.status == "inconclusive"  # no Prometheus: no data is not healthy


def test_a_closed_launch_is_neither_claimed_nor_read_nor_started(launch, people, settings):
    settings.PROMETHEUS_URL = ""
    validation = start_validation(launch=launch, actor=people["ada"],
                                  now=timezone.now() - 30 * SECONDS)  # fmt: skip
    launch.closed_at, launch.closed_by_name = timezone.now(), "Ada"
    launch.save(update_fields=["closed_at", "closed_by_name"])
    assert claim_due(timezone.now()) == []
    assert analyse_validation(validation_id=validation.pk, slot=timezone.now()) == []
    validation.status = "passed"
    validation.save(update_fields=["status"])
    with pytest.raises(LaunchClosed):
        start_validation(launch=launch, actor=people["ada"])
    assert PostLaunchReading.objects.count() == 0
