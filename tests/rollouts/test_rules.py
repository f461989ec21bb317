"""The rollout's rules, without a database: readings, analyses, stages and Argo's verdict."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from apps.rollouts.rules import (
    Limits,
    Tally,
    fill_query,
    outcome,
    reading_verdict,
    stage_status,
    tallied,
    web_verdict,
)

LIMITS = Limits(count=3, failure_limit=2, inconclusive_limit=2)


def test_the_portal_fills_in_the_window_and_the_stage_start():
    start = datetime(2027, 3, 2, 15, 0, tzinfo=UTC)
    query = "rate(x[{{window}}]) and x @ {{ stage_start }}"
    assert fill_query(query, window=timedelta(minutes=1), stage_start=start) == (
        "rate(x[1m]) and x @ 1803999600"
    )


@pytest.mark.parametrize(
    ("kind", "value", "error", "status", "reason"),
    [
        ("stage", "0.4", "", "passing", ""),
        ("stage", "1.5", "", "failing", "1.5 is not < 1"),
        ("stage", None, "empty result: the query matched no series", "unknown",
         "empty result: the query matched no series"),
        ("trigger", "0.4", "", "passing", ""),  # did not fire
        ("trigger", "7.25", "", "failing", "fired: 7.25 > 5"),
        ("trigger", None, "value is NaN", "unknown", "value is NaN"),  # no data fires nothing
        ("trigger", "1e30", "", "unknown", "out of range: 1.000e+30 (the limit is ±1e24)"),
    ],
)  # fmt: skip
def test_a_reading_is_judged_as_a_gate_is_and_a_trigger_fires_when_it_holds(
    kind, value, error, status, reason
):
    comparator, threshold = ("<", Decimal(1)) if kind == "stage" else (">", Decimal(5))
    found = reading_verdict(kind=kind, comparator=comparator, threshold=threshold,
                            value=Decimal(value) if value else None, error=error)  # fmt: skip
    assert (found.status, found.reason) == (status, reason)


def test_one_failing_reading_fails_the_analysis_and_one_unknown_makes_it_unknown():
    assert outcome(["passing", "passing"]) == "passing"
    assert outcome(["passing", "unknown", "failing"]) == "failing"
    assert outcome(["passing", "unknown"]) == "unknown"
    assert outcome([]) == "unknown"  # nothing read is no evidence


def test_passes_count_in_a_row_failures_and_unknowns_add_up():
    tally = Tally()
    for result in ["passing", "passing", "failing", "passing", "unknown", "passing"]:
        tally = tallied(tally, result)
    assert tally == Tally(passes_in_row=1, failures=1, inconclusives=1)


def test_a_stage_passes_once_it_ran_its_duration_with_count_passes_in_a_row():
    passes = Tally(passes_in_row=3)
    half, full = timedelta(minutes=15), timedelta(minutes=30)
    assert stage_status(passes, LIMITS, elapsed=half, duration=full) == "analysing"
    assert stage_status(passes, LIMITS, elapsed=full, duration=full) == "passed"
    assert stage_status(Tally(passes_in_row=2), LIMITS, elapsed=full, duration=full) == "analysing"
    assert stage_status(passes, LIMITS, elapsed=timedelta(0), duration=None) == "passed"


def test_a_stage_fails_or_is_inconclusive_at_its_limits_whatever_it_passed():
    long = timedelta(hours=1)
    assert stage_status(Tally(5, failures=2), LIMITS, elapsed=long, duration=None) == "failed"
    assert stage_status(Tally(5, 1, 2), LIMITS, elapsed=long, duration=None) == "inconclusive"


@pytest.mark.parametrize(
    ("run", "stage", "newest", "verdict"),
    [
        (None, None, [], "inconclusive"),
        ("running", None, ["passing"], "inconclusive"),  # the first traffic step is not confirmed
        ("running", "analysing", [], "inconclusive"),
        ("running", "analysing", ["passing", "passing"], "pass"),
        ("running", "analysing", ["passing", "unknown"], "inconclusive"),
        ("running", "analysing", ["passing", "failing"], "fail"),
        ("running", "passed", ["failing"], "pass"),  # the stage passed; triggers roll back
        ("rollback", "analysing", ["passing"], "fail"),
        ("failed", "failed", [], "fail"),
        ("inconclusive", "inconclusive", [], "inconclusive"),
        ("passed", "passed", [], "pass"),
    ],
)
def test_argo_is_told_pass_fail_or_inconclusive(run, stage, newest, verdict):
    assert web_verdict(run_status=run, stage_status=stage, newest=newest)[0] == verdict
