"""The timeline as a Gantt chart: geometry computed here, drawn by templates/launches/_gantt.svg.

Server-rendered SVG, so the same chart serves the page and the PDF packet.
"""

from dataclasses import dataclass, field
from datetime import date

from apps.launches.models import ActivityStatus, Launch

WIDTH = 960
LABEL = 230
ROW = 40
TOP = 30
MIN_WEEKS = 10


@dataclass
class Mark:
    x: float
    y: float
    title: str


@dataclass
class Bar:
    code: str
    name: str
    y: float
    x: float
    width: float
    done_width: float
    progress: int  # percent of activities done
    slipped: list[Mark] = field(default_factory=list)


@dataclass
class Gantt:
    width: int
    height: int
    label: int
    weeks: list[tuple[int, float]]  # (week number, x)
    week_width: float
    bars: list[Bar]
    today_x: float | None


def gantt(launch: Launch, phases: list, today: date) -> Gantt:
    """Geometry of the chart; `phases` come with their activities prefetched."""
    weeks = max([MIN_WEEKS, *(p.end_week for p in phases)])
    week_width = (WIDTH - LABEL - 10) / weeks
    current = (today - launch.start_date).days / 7  # weeks since week 1 began
    bars = [_bar(phase, i, week_width, current) for i, phase in enumerate(phases)]
    today_x = LABEL + current * week_width if 0 <= current <= weeks else None
    return Gantt(
        width=WIDTH,
        height=TOP + ROW * len(phases) + 10,
        label=LABEL,
        weeks=[(w, LABEL + (w - 1) * week_width) for w in range(1, weeks + 1)],
        week_width=week_width,
        bars=bars,
        today_x=today_x,
    )


def _bar(phase, index: int, week_width: float, current: float) -> Bar:
    activities = list(phase.activities.all())
    done = sum(1 for a in activities if a.status == ActivityStatus.DONE)
    progress = round(100 * done / len(activities)) if activities else 0
    x = LABEL + (phase.start_week - 1) * week_width
    width = (phase.end_week - phase.start_week + 1) * week_width
    y = TOP + index * ROW
    bar = Bar(phase.code, phase.name, y, x, width, width * progress / 100, progress)
    for activity in activities:
        if is_slipped(activity, current):
            x_mark = LABEL + (activity.planned_week - 0.5) * week_width
            title = f"{activity.name}: planned week {activity.planned_week}"
            bar.slipped.append(Mark(x_mark, y + 14, title))
    return bar


def is_slipped(activity, current_week_float: float) -> bool:
    """Not done although its planned week is over."""
    return activity.status != ActivityStatus.DONE and activity.planned_week <= current_week_float
