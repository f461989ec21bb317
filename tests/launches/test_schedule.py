"""The schedule's arithmetic, against a hold-out plan computed by hand (no database).

    s ──▶ a1 ──▶ a2 ──▶ g (the Go/No-Go) ──▶ p (after T-0)
    └───▶ b1 ──▶ b2 ──┘

Days, planned as soon as possible: s 0-3, a1 3-8, a2 8-14, b1 3-5, b2 5-9, g 14-16, p 16-20.
Path a is 3+5+6+2 = 16 days, path b 3+2+4+2 = 11: b has 5 days of slack (g could start at day
9, it starts at 14), p is after T-0 and cannot move it.
"""

import time

import pytest

from apps.launches.schedule import Task, plan
from bench.schedule import synthetic

HOLD_OUT = [
    Task("s", 0, 3),
    Task("a1", 3, 8, ("s",)),
    Task("a2", 8, 14, ("a1",)),
    Task("b1", 3, 5, ("s",)),
    Task("b2", 5, 9, ("b1",)),
    Task("g", 14, 16, ("a2", "b2")),
    Task("p", 16, 20, ("g",)),
]


def _with(done: set[str]) -> list[Task]:
    return [Task(t.key, t.start, t.end, t.after, t.key in done) for t in HOLD_OUT]


def test_the_critical_path_and_slack_of_the_hold_out_plan_are_as_computed_by_hand():
    schedule = plan(HOLD_OUT, today=0, target="g")
    assert schedule.critical == ["s", "a1", "a2", "g"]
    assert schedule.slack == {"s": 0, "a1": 0, "a2": 0, "b1": 5, "b2": 5, "g": 0, "p": None}
    durations = {t.key: t.duration for t in HOLD_OUT}
    assert sum(durations[k] for k in schedule.critical) == 16  # the longest chain, by durations
    assert schedule.t0_delay == 0 and schedule.movers == []


def test_a_slip_on_the_critical_path_moves_t0_by_the_slip():
    # Day 10: a1 was planned to end by day 8 (its last day 7) and is not done: 3 days late.
    schedule = plan(_with({"s", "b1", "b2"}), today=10, target="g")
    assert schedule.overdue["a1"] == 3
    assert schedule.delay == {"s": 0, "a1": 3, "a2": 3, "b1": 0, "b2": 0, "g": 3, "p": 3}
    assert schedule.t0_delay == 3
    assert schedule.movers == [("a1", 3)]


def test_a_slip_smaller_than_the_slack_of_an_off_path_activity_does_not_move_t0():
    schedule = plan(_with({"s", "a1", "b1"}), today=10, target="g")
    assert schedule.overdue["b2"] == 2 < schedule.slack["b2"] == 5
    assert schedule.delay["b2"] == 2  # its own forecast finish moves...
    assert schedule.delay["g"] == 0 and schedule.t0_delay == 0  # ...T-0 does not
    assert schedule.movers == []


def test_a_slip_beyond_the_slack_moves_t0_by_what_the_slack_does_not_absorb():
    schedule = plan(_with({"s", "a1", "a2", "b1"}), today=15, target="g")
    assert schedule.overdue["b2"] == 7
    assert schedule.t0_delay == 2 and schedule.movers == [("b2", 2)]


def test_done_work_is_forecast_as_planned_and_work_after_t0_never_moves_it():
    late_p = plan(_with({"s", "a1", "a2", "b1", "b2", "g"}), today=25, target="g")
    assert late_p.overdue["p"] == 6 and late_p.delay["p"] == 6
    assert late_p.delay["g"] == 0 and late_p.t0_delay == 0 and late_p.movers == []


def test_a_gap_in_the_plan_absorbs_a_slip_and_same_week_work_does_not_push():
    tasks = [Task("x", 0, 7), Task("y", 14, 21, ("x",)), Task("z", 14, 21, ("y",))]
    schedule = plan(tasks, today=10, target="z")
    assert schedule.slack == {"x": 7, "y": 0, "z": 0}  # y and z share week 3: no gap, no push
    assert schedule.overdue["x"] == 4 and schedule.delay == {"x": 4, "y": 0, "z": 0}


def test_without_a_target_nothing_is_critical():
    schedule = plan(HOLD_OUT, today=0, target=None)
    assert schedule.critical == [] and set(schedule.slack.values()) == {None}


def test_a_cycle_is_refused():
    with pytest.raises(ValueError, match="dependency cycle"):
        plan([Task("x", 0, 7, ("y",)), Task("y", 0, 7, ("x",))], today=0, target="x")


def test_400_activities_are_scheduled_in_under_20_ms():
    tasks, target = synthetic(400)
    today = max(t.end for t in tasks) // 2
    best = float("inf")
    for _ in range(5):  # the best of five: a busy machine delays a run, it never speeds one up
        started = time.perf_counter()
        schedule = plan(tasks, today=today, target=target)
        best = min(best, time.perf_counter() - started)
    assert schedule.critical[-1] == target and len(schedule.critical) > 2
    assert best < 0.020, f"{best * 1000:.1f} ms"
