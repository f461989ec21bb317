"""Gate rules as pure functions: (rule, reading) -> verdict. No ORM, no I/O."""

import operator
from dataclasses import dataclass
from decimal import Decimal

from apps.gates.models import SIX_PLACES, VALUE_CONTEXT, GateStatus, format_decimal

_COMPARE = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


# Measurement.value is numeric(30, 6): 24 digits before the point. A value the column cannot hold
# is no evidence; it never reaches the database (SQLite would store Inf, PostgreSQL overflow).
VALUE_LIMIT = Decimal("1e24")


def out_of_range(value: Decimal) -> bool:
    """Whether a finite value is too large for the measurement column (|v| >= 1e24)."""
    return abs(value) >= VALUE_LIMIT


def storable(value: Decimal | None) -> Decimal | None:
    """The value as the column keeps it (six places), or None when it cannot hold it."""
    if value is None or not value.is_finite() or out_of_range(value):
        return None
    return value.quantize(SIX_PLACES, context=VALUE_CONTEXT)


@dataclass(frozen=True)
class Verdict:
    status: str
    reason: str = ""


def compare(value: Decimal, comparator: str, threshold: Decimal) -> bool:
    return _COMPARE[comparator](value, threshold)


def verdict(
    *, comparator: str, threshold: Decimal, value: Decimal | None, error: str = ""
) -> Verdict:
    """The status a reading gives: an error or a missing value is unknown, never passing."""
    if error:
        return Verdict(GateStatus.UNKNOWN, error)
    if value is None:
        return Verdict(GateStatus.UNKNOWN, "no value")
    if not value.is_finite():
        return Verdict(GateStatus.UNKNOWN, f"value is {value}")
    if out_of_range(value):
        return Verdict(GateStatus.UNKNOWN, f"out of range: {value:.3e} (the limit is ±1e24)")
    if compare(value, comparator, threshold):
        return Verdict(GateStatus.PASSING)
    return Verdict(
        GateStatus.FAILING,
        f"{format_decimal(value)} is not {comparator} {format_decimal(threshold)}",
    )


@dataclass(frozen=True)
class State:
    """A gate's guarded state and the run of agreeing readings that may change it."""

    status: str
    streak_status: str = ""
    streak_count: int = 0


def advance(state: State, reading_status: str, *, for_count: int) -> State:
    """The state after one more reading.

    `for_count` guards changes between real verdicts: passing or failing takes over once
    `for_count` readings in a row agree. An unknown reading (a source error, a garbage answer, no
    value) takes over at once: the guard delays verdicts, it never hides an error. A gate that was
    never measured takes its first reading at once.
    """
    streak = state.streak_count + 1 if reading_status == state.streak_status else 1
    at_once = state.status == GateStatus.PENDING or reading_status == GateStatus.UNKNOWN
    if at_once or streak >= for_count:
        return State(reading_status, reading_status, streak)
    return State(state.status, reading_status, streak)
