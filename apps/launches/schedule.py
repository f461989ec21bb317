"""The plan as a schedule: slack, the critical path and forecast finishes. Pure: no ORM, no I/O.

Time is counted in whole days from day 0, the first day of week 1; an activity's `end` is the
day after its last day (week N ends at day 7N). Dependencies are finish-to-start: an activity
starts once everything in its `after` is finished.

- The *gap* between a predecessor and an activity is the time the plan leaves between them
  (the activity's planned start minus the predecessor's planned end; never below 0: two
  activities planned in the same week do not push each other).
- *Slack* (total float) is how many days an activity may finish late before the target (the
  Go/No-Go, which T-0 waits for) does: the smallest sum of gaps on a chain from it to the target.
  Activities the target does not wait for have no slack: they cannot move T-0.
- The *critical path* is the chain to the target with the least slack, followed back from the
  target through the predecessor with the least slack (ties: the smaller gap, then the longer
  one). In a plan without buffers it is the longest chain of dependent work by durations.
- The *forecast*: an activity not done whose planned end has passed ends no earlier than today
  (its own overdue time); dependents move by their predecessor's delay less the gap between
  them. Done activities are forecast to end as planned. T-0 moves by the target's delay.
"""

from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter


@dataclass(frozen=True)
class Task:
    key: str
    start: int  # the first day of work
    end: int  # the day after the last day of work
    after: tuple[str, ...] = ()
    done: bool = False

    @property
    def duration(self) -> int:
        return self.end - self.start


@dataclass
class Schedule:
    target: str | None
    slack: dict[str, int | None]  # days; None: the target does not wait for it
    delay: dict[str, int]  # forecast end minus planned end, days (0: on time)
    overdue: dict[str, int]  # its own lateness: not done although its planned end is past
    critical: list[str]  # the critical path, from its first activity to the target
    movers: list[tuple[str, int]] = field(default_factory=list)  # slipped, moving T-0 by days

    @property
    def t0_delay(self) -> int:
        """How many days the forecast T-0 is later than planned."""
        return self.delay.get(self.target, 0) if self.target else 0


def plan(tasks: list[Task], *, today: int, target: str | None) -> Schedule:
    """Slack, critical path and forecast of `tasks` on day `today`; T-0 waits for `target`.

    Raises ValueError on a dependency cycle (launch specs refuse them before they get here).
    """
    by_key = {t.key: t for t in tasks}
    order = _topological(by_key)
    overdue = {t.key: max(0, today + 1 - t.end) if not t.done else 0 for t in tasks}
    delay = _forecast(by_key, order, overdue)
    slack = _slack(by_key, order, target)
    schedule = Schedule(target, slack, delay, overdue, _critical(by_key, slack, target))
    # Capped at T-0's own delay: work already done downstream stops a slip from travelling.
    moves = [(key, min(days - slack[key], schedule.t0_delay))
             for key, days in overdue.items() if slack[key] is not None]  # fmt: skip
    schedule.movers = sorted(((k, d) for k, d in moves if d > 0), key=lambda m: (-m[1], m[0]))
    return schedule


def gap(before: Task, task: Task) -> int:
    return max(0, task.start - before.end)


def _topological(by_key: dict[str, Task]) -> list[str]:
    graph = {key: [k for k in task.after if k in by_key] for key, task in by_key.items()}
    try:
        return list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise ValueError(f"dependency cycle: {' -> '.join(exc.args[1])}") from None


def _forecast(by_key: dict[str, Task], order: list[str], overdue: dict[str, int]) -> dict:
    delay: dict[str, int] = {}
    for key in order:  # predecessors first
        task = by_key[key]
        if task.done:
            delay[key] = 0
            continue
        pushed = (delay[k] - gap(by_key[k], task) for k in task.after if k in by_key)
        delay[key] = max(overdue[key], *pushed, 0)
    return delay


def _slack(by_key: dict[str, Task], order: list[str], target: str | None) -> dict:
    slack: dict[str, int | None] = dict.fromkeys(by_key)
    if target not in by_key:
        return slack
    slack[target] = 0
    for key in reversed(order):  # successors first: the target's ancestors come after it
        if slack[key] is None:
            continue
        task = by_key[key]
        for k in task.after:
            if k in by_key:
                through = slack[key] + gap(by_key[k], task)
                slack[k] = through if slack[k] is None else min(slack[k], through)
    return slack


def _critical(by_key: dict[str, Task], slack: dict, target: str | None) -> list[str]:
    if target not in by_key:
        return []
    chain, key = [target], target
    while before := [k for k in by_key[key].after if k in by_key]:
        task = by_key[key]  # the predecessor that drives it: least slack, then no gap
        key = min(before, key=lambda k: (slack[k], gap(by_key[k], task), -by_key[k].duration, k))
        chain.append(key)
    return chain[::-1]
