"""The soak's guard check, on readings written by hand: no database, no servers."""

from bench.soak_flaps import Change, guarded_changes, judge_gate

P, F, U = "passing", "failing", "unknown"


def readings(*statuses: str) -> list[tuple[int, str]]:
    return list(enumerate(statuses, start=1))


def test_the_first_reading_is_taken_at_once_then_a_change_waits_for_its_run():
    found = guarded_changes(readings(U, P, F, F, P, F, F, F), for_count=3)

    # Neither the lone pass nor the first two failures are enough; the third in a row is.
    assert found == [Change(1, "pending", U), Change(8, U, F)]


def test_a_run_of_verdicts_shorter_than_the_guard_changes_nothing():
    assert guarded_changes(readings(P, F, F, P, F, F, P), for_count=3) == [Change(1, "pending", P)]


def test_an_error_is_taken_at_once_whatever_the_guard():
    found = guarded_changes(readings(P, U, U, P, P, P), for_count=3)

    assert found == [Change(1, "pending", P), Change(2, P, U), Change(6, U, P)]


def test_without_a_guard_one_error_makes_a_gate_unknown_and_one_success_brings_it_back():
    found = guarded_changes(readings(P, U, P), for_count=1)

    assert found == [Change(1, "pending", P), Change(2, P, U), Change(3, U, P)]


def test_a_change_stored_before_its_run_was_long_enough_is_a_flap():
    verdict = judge_gate(
        key="latency-p99", for_count=3, scheduled=True, readings=readings(P, F, F, F),
        stored=[Change(1, "pending", P), Change(3, P, F)],
    )  # fmt: skip

    assert verdict.flaps == ["passing -> failing at measurement 3"]
    assert verdict.missed == ["passing -> failing at measurement 4"]
    assert not verdict.ok


def test_a_change_the_guard_allows_but_nobody_stored_is_missed():
    verdict = judge_gate(
        key="error-rate", for_count=2, scheduled=False, readings=readings(P, F, F),
        stored=[Change(1, "pending", P)],
    )  # fmt: skip

    assert verdict.flaps == []
    assert verdict.missed == ["passing -> failing at measurement 3"]
    assert not verdict.ok


def test_changes_are_sorted_by_cause_and_a_stable_gate_failing_is_unexplained():
    stable = judge_gate(
        key="kafka-brokers", for_count=1, scheduled=False, readings=readings(P, U, P, F),
        stored=[Change(1, "pending", P), Change(2, P, U), Change(3, U, P), Change(4, P, F)],
    )  # fmt: skip
    scheduled = judge_gate(
        key="latency-p99", for_count=2, scheduled=True, readings=readings(P, F, F),
        stored=[Change(1, "pending", P), Change(3, P, F)],
    )  # fmt: skip

    assert stable.causes == {"first reading": 1, "source error": 2, "unexplained": 1}
    assert stable.unexpected_failing == 1 and not stable.ok
    assert scheduled.causes == {"first reading": 1, "schedule": 1}
    assert scheduled.shortest_run == 2 and scheduled.ok
