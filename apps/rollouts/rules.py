"""Rollout rules as pure functions: a reading's verdict, an analysis's outcome, a stage's status
and the answer given to Argo Rollouts. No ORM, no I/O."""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from apps.gates.models import GateStatus, format_decimal
from apps.gates.rules import Verdict
from apps.gates.rules import verdict as gate_verdict
from apps.launches.durations import format_duration
from apps.rollouts.models import ROLLED_BACK, CriterionKind, RunStatus, StageStatus

PASSING, FAILING, UNKNOWN = GateStatus.PASSING, GateStatus.FAILING, GateStatus.UNKNOWN
_WINDOW = re.compile(r"\{\{\s*window\s*\}\}")
_STAGE_START = re.compile(r"\{\{\s*stage_start\s*\}\}")


def fill_query(query: str, *, window: timedelta, stage_start: datetime) -> str:
    """The query as sent: `{{window}}` is a PromQL duration (the analysis interval of a stage),
    `{{stage_start}}` the Unix time the stage (or, before the first stage, the run) started."""
    query = _WINDOW.sub(format_duration(window), query)
    return _STAGE_START.sub(str(int(stage_start.timestamp())), query)


def reading_verdict(
    *, kind: str, comparator: str, threshold: Decimal, value: Decimal | None, error: str = ""
) -> Verdict:
    """A criterion holds: passing. A trigger holds: it fired, which reads failing. Anything
    unknown to a gate (an error, no value, an out-of-range value) is unknown here too."""
    found = gate_verdict(comparator=comparator, threshold=threshold, value=value, error=error)
    if kind != CriterionKind.TRIGGER or found.status == UNKNOWN:
        return found
    if found.status == PASSING:
        fired = f"{format_decimal(value)} {comparator} {format_decimal(threshold)}"
        return Verdict(FAILING, f"fired: {fired}")
    return Verdict(PASSING)


def outcome(statuses: list[str]) -> str:
    """One analysis: failing if any reading fails, else unknown if any is unknown or there is
    none, else passing."""
    if FAILING in statuses:
        return FAILING
    if UNKNOWN in statuses or not statuses:
        return UNKNOWN
    return PASSING


@dataclass(frozen=True)
class Tally:
    passes_in_row: int = 0
    failures: int = 0
    inconclusives: int = 0


def tallied(tally: Tally, result: str) -> Tally:
    """The tally after one more analysis (like Argo's AnalysisRun: failures and inconclusives
    add up over the stage; passes count only in a row)."""
    if result == PASSING:
        return Tally(tally.passes_in_row + 1, tally.failures, tally.inconclusives)
    if result == FAILING:
        return Tally(0, tally.failures + 1, tally.inconclusives)
    return Tally(0, tally.failures, tally.inconclusives + 1)


@dataclass(frozen=True)
class Limits:
    count: int
    failure_limit: int
    inconclusive_limit: int


def stage_status(
    tally: Tally, limits: Limits, *, elapsed: timedelta, duration: timedelta | None
) -> str:
    """A stage fails at `failure_limit` failures, is inconclusive at `inconclusive_limit`
    unknowns, and passes once it has run its duration with the last `count` analyses passing."""
    if tally.failures >= limits.failure_limit:
        return StageStatus.FAILED
    if tally.inconclusives >= limits.inconclusive_limit:
        return StageStatus.INCONCLUSIVE
    if tally.passes_in_row >= limits.count and (duration is None or elapsed >= duration):
        return StageStatus.PASSED
    return StageStatus.ANALYSING


def in_window(now: datetime, window: tuple[datetime, datetime]) -> bool:
    return window[0] <= now <= window[1]


def web_verdict(*, run_status: str | None, stage_status: str | None, newest: list[str]) -> tuple:
    """Argo Rollouts' answer, (verdict, reason): `pass`, `fail` or `inconclusive`.

    `newest` holds the statuses of the newest analysis of the current stage and the triggers.
    """
    if run_status is None:
        return "inconclusive", "no rollout run"
    if run_status in ROLLED_BACK:
        return "fail", f"the run ended: {run_status}"
    if run_status == RunStatus.INCONCLUSIVE:
        return "inconclusive", "the run is inconclusive"
    if run_status == RunStatus.PASSED:
        return "pass", "every stage passed"
    if stage_status is None:
        return "inconclusive", "no stage has started yet"
    if stage_status == StageStatus.PASSED:
        return "pass", "the stage passed"
    result = outcome(newest)
    if result == FAILING:
        return "fail", "a criterion fails"
    if result == UNKNOWN:
        return "inconclusive", "a criterion is unknown" if newest else "no analysis yet"
    return "pass", "every criterion passes so far"
