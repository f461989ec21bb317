"""The rules are pure: every comparator, and no value is never a pass."""

from decimal import Decimal

import pytest

from apps.gates.rules import compare, verdict

D = Decimal


@pytest.mark.parametrize(
    ("value", "comparator", "threshold", "expected"),
    [
        (D("85"), ">=", D("85"), True),
        (D("84.99"), ">=", D("85"), False),
        (D("85.01"), ">", D("85"), True),
        (D("85"), ">", D("85"), False),
        (D("99"), "<", D("100"), True),
        (D("100"), "<", D("100"), False),
        (D("100"), "<=", D("100"), True),
        (D("100.001"), "<=", D("100"), False),
        (D("0"), "==", D("0"), True),
        (D("0.0"), "==", D("0"), True),
        (D("1"), "==", D("0"), False),
        (D("1"), "!=", D("0"), True),
        (D("0"), "!=", D("0"), False),
    ],
)
def test_comparators_on_decimals(value, comparator, threshold, expected):
    assert compare(value, comparator, threshold) is expected


def test_a_passing_value_passes():
    assert verdict(comparator=">=", threshold=D("99.9"), value=D("99.95")).status == "passing"


def test_a_failing_value_fails_with_the_reason():
    result = verdict(comparator="<", threshold=D("100"), value=D("130"))
    assert (result.status, result.reason) == ("failing", "130 is not < 100")


@pytest.mark.parametrize(
    ("value", "error", "reason"),
    [
        (None, "", "no value"),
        (D("NaN"), "", "value is NaN"),
        (D("Infinity"), "", "value is Infinity"),
        (D("99.99"), "connection refused", "connection refused"),
    ],
)
def test_no_value_or_an_error_is_unknown_never_passing(value, error, reason):
    result = verdict(comparator=">=", threshold=D("99.9"), value=value, error=error)
    assert (result.status, result.reason) == ("unknown", reason)
