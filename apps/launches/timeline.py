"""The timeline: the plan's schedule (apps/launches/schedule.py) as table rows and as a Gantt
chart, whose geometry is computed here and drawn by templates/launches/_gantt.svg.

Server-rendered SVG, so the same chart serves the page and the PDF packet. Everything is
computed from the phases with their activities prefetched: no query per activity.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from apps.launches.models import Activity, ActivityStatus, Launch
from apps.launches.schedule import Schedule, Task, plan

WIDTH = 960
LABEL = 250
TOP = 30
PHASE_ROW = 30
ACTIVITY_ROW = 22
MIN_WEEKS = 10
PROGRESS = {ActivityStatus.DONE: 100, ActivityStatus.IN_PROGRESS: 50}  # no finer measure exists


@dataclass
class Row:
    """One activity in the table, with its schedule."""

    phase: object
    activity: Activity
    slipped: bool
    planned_end: date  # the last day of planned work
    forecast_end: date
    delay: int  # days
    slack: int | None  # days; None: T-0 does not wait for it
    critical: bool


@dataclass
class Bar:
    key: str
    name: str
    owner: str
    status: str
    y: float
    x: float
    width: float
    done_width: float
    forecast_width: float  # past the planned end (0: on time)
    critical: bool
    slipped: bool
    title: str
    owner_x: float
    owner_anchor: str

    @property
    def end_x(self) -> float:
        return self.x + self.width


@dataclass
class PhaseBar:
    code: str
    name: str
    y: float
    x: float
    width: float
    done_width: float
    progress: int  # percent of activities done
    forecast_width: float
    title: str
    bars: list[Bar] = field(default_factory=list)

    @property
    def end_x(self) -> float:
        return self.x + self.width


@dataclass
class Arrow:
    path: str
    critical: bool


@dataclass
class Gantt:
    width: int
    height: int
    label: int
    weeks: list[tuple[int, float]]  # (week number, x)
    week_width: float
    bars: list[PhaseBar]
    arrows: list[Arrow]
    today_x: float | None
    t0_x: float | None
    forecast_t0_x: float | None


@dataclass
class Plan:
    """The launch's schedule with the lookups the page needs."""

    launch: Launch
    activities: dict[str, Activity]
    phase_of: dict[str, object]
    tasks: dict[str, Task]
    schedule: Schedule
    today: int  # days since the first day of week 1

    def day(self, offset: int) -> date:
        return self.launch.start_date + timedelta(days=offset)

    def row(self, key: str) -> Row:
        task, activity = self.tasks[key], self.activities[key]
        delay = self.schedule.delay[key]
        return Row(self.phase_of[key], activity, self.schedule.overdue[key] > 0,
                   self.day(task.end - 1), self.day(task.end - 1 + delay), delay,
                   self.schedule.slack[key], key in self.schedule.critical)  # fmt: skip

    def phase_forecast_end(self, phase) -> int:
        """The day after a phase's forecast finish: its planned end or its latest activity's."""
        ends = [self.tasks[a.key].end + self.schedule.delay[a.key] for a in phase.activities.all()]
        return max([phase.end_week * 7, *ends])

    def forecast_t0(self):
        return self.launch.target_t0 + timedelta(days=self.schedule.t0_delay)

    def t0_sentence(self) -> str:
        """Which slipped activity moves T-0 and by how much, as a person would say it."""
        if self.schedule.target is None:
            return "The plan has no activities: nothing forecasts T-0."
        if not self.schedule.movers:
            late = sum(1 for days in self.schedule.overdue.values() if days)
            absorbed = f" ({late} slipped, absorbed by slack or not on T-0's path)" if late else ""
            return f"No slipped activity moves T-0{absorbed}: forecast T-0 as planned."
        key, days = self.schedule.movers[0]
        first = self.row(key)
        text = (f"{first.activity.name} ({first.phase.code}, planned to end "
                f"{first.planned_end:%a %Y-%m-%d}, not done) moves T-0 by {_days(days)}, "
                f"to {self.forecast_t0():%a %Y-%m-%d %H:%M} UTC")  # fmt: skip
        others = [f"{self.activities[k].name} by {_days(d)}" for k, d in self.schedule.movers[1:]]
        return text + (f"; also late: {', '.join(others)}." if others else ".")


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def build_plan(launch: Launch, phases: list, today: date) -> Plan:
    """The schedule of `phases` (with their activities prefetched) as of `today`."""
    activities, phase_of, tasks = {}, {}, {}
    for phase in phases:
        for activity in phase.activities.all():
            key = key_of(activity)
            activities[key], phase_of[key] = activity, phase
            done = activity.status == ActivityStatus.DONE
            start, end = (activity.first_week - 1) * 7, activity.planned_week * 7
            tasks[key] = Task(key, start, end, tuple(activity.after), done)
    offset = (today - launch.start_date).days
    target = _target(launch, activities, tasks)
    schedule = plan(list(tasks.values()), today=offset, target=target)
    return Plan(launch, activities, phase_of, tasks, schedule, offset)


def key_of(activity: Activity) -> str:
    return activity.key or f"activity-{activity.pk}"  # made outside a spec: no key yet


def _target(launch: Launch, activities: dict, tasks: dict) -> str | None:
    """The activity marked Go/No-Go; else the last one planned to end by T-0's week."""
    for key, activity in activities.items():
        if activity.go_no_go:
            return key
    t0_week_end = ((launch.target_t0.date() - launch.start_date).days // 7 + 1) * 7
    before = [key for key, task in tasks.items() if task.end <= t0_week_end] or list(tasks)
    return max(before, key=lambda k: tasks[k].end, default=None)


def rows(plan_: Plan) -> list[Row]:
    return [plan_.row(key) for key in plan_.activities]


def gantt(launch: Launch, phases: list, today: date, plan_: Plan | None = None) -> Gantt:
    """Geometry of the chart; `phases` come with their activities prefetched."""
    plan_ = plan_ or build_plan(launch, phases, today)
    last = max([plan_.phase_forecast_end(p) for p in phases] + [plan_.today, 0])
    week_one = datetime.combine(launch.start_date, time(), tzinfo=UTC)
    t0_day = (launch.target_t0 - week_one).total_seconds() / 86400
    weeks = max(MIN_WEEKS, -(-last // 7), int(t0_day + plan_.schedule.t0_delay) // 7 + 1)
    week_width = (WIDTH - LABEL - 10) / weeks

    def x(day: float) -> float:
        return LABEL + day / 7 * week_width

    y, phase_bars = TOP, []
    for phase in phases:
        phase_bars.append(_phase_bar(plan_, phase, y, x))
        y += PHASE_ROW + ACTIVITY_ROW * len(phase_bars[-1].bars)
    inside = lambda day: x(day) if 0 <= day <= weeks * 7 else None  # noqa: E731
    return Gantt(
        width=WIDTH,
        height=y + 24,
        label=LABEL,
        weeks=[(w, x((w - 1) * 7)) for w in range(1, weeks + 1)],
        week_width=week_width,
        bars=phase_bars,
        arrows=_arrows(plan_, {b.key: b for p in phase_bars for b in p.bars}),
        today_x=inside(plan_.today + 0.5),
        t0_x=inside(t0_day),
        forecast_t0_x=inside(t0_day + plan_.schedule.t0_delay) if plan_.schedule.t0_delay else None,
    )


def _phase_bar(plan_: Plan, phase, y: float, x) -> PhaseBar:
    activities = list(phase.activities.all())
    done = sum(1 for a in activities if a.status == ActivityStatus.DONE)
    progress = round(100 * done / len(activities)) if activities else 0
    start, end = (phase.start_week - 1) * 7, phase.end_week * 7
    forecast = plan_.phase_forecast_end(phase)
    width = x(end) - x(start)
    title = (f"{phase.code} {phase.name}: {progress}% of activities done; planned to end "
             f"{plan_.day(end - 1):%a %Y-%m-%d}, "
             f"forecast {plan_.day(forecast - 1):%a %Y-%m-%d}")  # fmt: skip
    bar = PhaseBar(phase.code, phase.name, y, x(start), width, width * progress / 100, progress,
                   x(forecast) - x(end), title)  # fmt: skip
    for index, activity in enumerate(activities):
        top = y + PHASE_ROW + index * ACTIVITY_ROW
        bar.bars.append(_activity_bar(plan_, plan_.row(key_of(activity)), top, x))
    return bar


def _activity_bar(plan_: Plan, row: Row, y: float, x) -> Bar:
    activity = row.activity
    key = key_of(activity)
    task = plan_.tasks[key]
    left, right = x(task.start), x(task.end)
    forecast_right = x(task.end + row.delay)
    title = (f"{activity.name} — {activity.owner or 'no owner'}, "
             f"{activity.get_status_display()}; planned to end {row.planned_end:%a %Y-%m-%d}, "
             f"forecast {row.forecast_end:%a %Y-%m-%d}; {slack_text(row)}")  # fmt: skip
    room = WIDTH - forecast_right - 6 > 6.5 * len(activity.owner)
    return Bar(key, activity.name, activity.owner, activity.status, y, left, right - left,
               (right - left) * PROGRESS.get(activity.status, 0) / 100, forecast_right - right,
               row.critical, row.slipped, title, forecast_right + 4 if room else left - 4,
               "start" if room else "end")  # fmt: skip


def slack_text(row: Row) -> str:
    if row.slack is None:
        return "T-0 does not wait for it"
    slack = f"slack {_days(row.slack)}" if row.slack else "no slack"
    return f"on the critical path, {slack}" if row.critical else slack


def _arrows(plan_: Plan, bars: dict[str, Bar]) -> list[Arrow]:
    """Finish-to-start arrows, from a predecessor's end to its dependent's start."""
    critical = plan_.schedule.critical
    pairs = set(zip(critical, critical[1:], strict=False))
    arrows = []
    for key, task in plan_.tasks.items():
        for before in task.after:
            if before not in bars:
                continue
            a, b = bars[before], bars[key]
            x1, y1 = a.x + a.width + a.forecast_width, a.y + ACTIVITY_ROW / 2
            x2, y2 = b.x, b.y + ACTIVITY_ROW / 2
            bend = max(12.0, (x2 - x1) / 2)
            path = (f"M{x1:.1f} {y1:.1f} C{x1 + bend:.1f} {y1:.1f} "
                    f"{x2 - bend:.1f} {y2:.1f} {x2:.1f} {y2:.1f}")  # fmt: skip
            arrows.append(Arrow(path, (before, key) in pairs))
    return sorted(arrows, key=lambda arrow: arrow.critical)  # the critical ones drawn on top


def is_slipped(activity, current_week_float: float) -> bool:
    """Not done although its planned week is over."""
    return activity.status != ActivityStatus.DONE and activity.planned_week <= current_week_float
