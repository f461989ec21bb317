"""Gate rules as pure functions: (rule, reading) -> verdict. No ORM, no I/O."""

import operator
from dataclasses import dataclass
from decimal import Decimal

from apps.gates.models import GateStatus, format_decimal

_COMPARE = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


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
    """The state after one more reading: it changes only once `for_count` readings agree.

    A gate that was never measured takes its first reading at once.
    """
    streak = state.streak_count + 1 if reading_status == state.streak_status else 1
    if state.status == GateStatus.PENDING or streak >= for_count:
        return State(reading_status, reading_status, streak)
    return State(state.status, reading_status, streak)
