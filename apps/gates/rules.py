"""Gate rules as pure functions: (rule, reading) -> verdict. No ORM, no I/O."""

import operator
from dataclasses import dataclass
from decimal import Decimal

from apps.gates.models import GateStatus

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
    return Verdict(GateStatus.FAILING, f"{value} is not {comparator} {threshold}")
