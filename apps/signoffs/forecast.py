"""Readiness forecast: a burn-up of a launch's blocking gates and required sign-offs per day, and
the day it will be ready at the current rate. Pure but for `load_history`, which reads the
history in three queries however long it is.

Each day (UTC) is counted as it stood at its end (today: as it stands now):
- a blocking gate is passing, failing, unknown or pending as its newest status change by then
  left it; a gate with no change yet has no evidence: pending, counted as not done (a risk, not
  ignored). Not passing with an approved waiver in force, it counts as waived.
- a required role is approved when its sign-off in force (the newest signed by then) approves
  and had not been invalidated by then; otherwise it is awaited.
- done = passing + waived + approved; left = gates + roles - done.

The projection: the mean daily net rate of `done` over the last RATE_DAYS days of history
(rate = (done today - done n days ago) / n), ready on today + ceil(left / rate). The band comes
from the spread of the n daily net changes: at their 90th percentile the earliest day, at their
10th the latest (statistics.quantiles, inclusive). A rate <= 0 (a stall, or a regression) gives
no day: "not at the current rate".
"""

import math
import statistics
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import BooleanField, DateTimeField, F, Q, Value, Window
from django.db.models.functions import FirstValue, TruncDate

from apps.gates.models import Gate, StatusChange, Waiver
from apps.signoffs.models import APPROVALS, SignOff

RATE_DAYS = 14  # the trend is the last two weeks' rate
HISTORY_DAYS = 60  # the burn-up draws at most this many days
HORIZON_DAYS = 120  # a projection further out than this is said, not drawn
GATE_STATUSES = ("passing", "waived", "failing", "unknown", "pending")


@dataclass(frozen=True)
class History:
    """What the burn-up is counted from (load_history reads it; tests build it)."""

    gates: list[int]  # the blocking gates' ids
    roles: list[int]  # the required roles' ids
    changes: list[tuple[int, date, str]]  # gate id, day, its status at the end of that day
    waivers: list[tuple[int, datetime, datetime]]  # gate id, in force from, until
    signoffs: list[tuple[int, datetime, bool, datetime | None]]  # role, signed, approves, void
    current: dict[int, str] = field(default_factory=dict)  # gate id: status now (the pages')


@dataclass(frozen=True)
class Day:
    day: date
    gates: dict[str, int]  # status: count
    approved: int
    awaited: int

    @property
    def done(self) -> int:
        return self.gates["passing"] + self.gates["waived"] + self.approved


@dataclass(frozen=True)
class Forecast:
    days: list[Day]
    t0: date
    rate: float | None  # done a day, over `window` days; None: no history yet
    window: int
    ready_on: date | None
    earliest: date | None
    latest: date | None

    @property
    def today(self) -> Day:
        return self.days[-1]

    @property
    def total(self) -> int:
        return sum(self.today.gates.values()) + self.today.approved + self.today.awaited

    @property
    def left(self) -> int:
        return self.total - self.today.done

    @property
    def gates_left(self) -> int:
        counts = self.today.gates
        return counts["failing"] + counts["unknown"] + counts["pending"]

    def versus_t0(self, day: date) -> str:
        """`day` as the launch counts it: T-0, T+3d, T-2d."""
        diff = (day - self.t0).days
        return "T-0" if diff == 0 else f"T{diff:+d}d"

    def sentence(self) -> str:
        """The forecast in one sentence, as the pages, the API and the packet say it."""
        if self.left == 0:
            return "Ready now: every blocking gate holds and every required role approved."
        left = self._left_text()
        if self.rate is None:
            return f"No trend yet: not enough history to project a ready date; {left}."
        per_day = f"{self.rate:+.2g} a day over the last {self.window} days"
        if self.ready_on is None:
            why = "no net progress" if self.rate == 0 else "going backwards"
            return f"Not ready at the current rate ({why}: {per_day}); {left}."
        band = ""
        if self.earliest and self.earliest != self.latest:
            if self.latest:
                band = f", between {self.earliest:%Y-%m-%d} and {self.latest:%Y-%m-%d}"
            else:
                band = f", at the earliest {self.earliest:%Y-%m-%d} (at the slowest rate, never)"
        when = f"{self.ready_on:%a %Y-%m-%d} ({self.versus_t0(self.ready_on)})"
        return f"At the current rate ({per_day}), ready around {when}{band}; {left}."

    def _left_text(self) -> str:
        counts, awaited = self.today.gates, self.today.awaited
        parts = [f"{self.gates_left} blocking gate{'s' * (self.gates_left != 1)}"]
        if awaited:
            parts.append(f"{awaited} sign-off{'s' * (awaited != 1)}")
        text = " and ".join(parts) + " left"
        if unseen := counts["pending"]:
            text += f" ({unseen} gate{'s' * (unseen != 1)} with no evidence yet)"
        return text

    def as_dict(self) -> dict:
        """The API's document."""
        return {
            "sentence": self.sentence(),
            "t0": self.t0, "total": self.total, "done": self.today.done, "left": self.left,
            "gates_left": self.gates_left, "signoffs_left": self.today.awaited,
            "method": f"mean daily net rate over the last {RATE_DAYS} days; band: 10th/90th "
                      "percentile of the daily net changes",
            "rate": self.rate, "window_days": self.window,
            "ready_on": self.ready_on, "earliest": self.earliest, "latest": self.latest,
            "versus_t0": self.versus_t0(self.ready_on) if self.ready_on else None,
            "days": [{"day": d.day, **d.gates, "approved": d.approved, "awaited": d.awaited,
                      "done": d.done} for d in self.days],
        }  # fmt: skip


def forecast(history: History, *, now: datetime, t0: date) -> Forecast:
    """The burn-up of `history` up to `now`, and its projection against T-0 (day `t0`)."""
    today = now.astimezone(UTC).date()
    statuses = _gate_statuses(history)
    days = [_day(history, statuses, d, now) for d in _days(history, today)]
    recent = days[-RATE_DAYS - 1 :]
    changes = [b.done - a.done for a, b in zip(recent, recent[1:], strict=False)]
    if not changes:
        return Forecast(days, t0, None, 0, None, None, None)
    rate = (days[-1].done - days[-1 - len(changes)].done) / len(changes)
    left = len(history.gates) + len(history.roles) - days[-1].done
    low, high = _band(changes)
    return Forecast(days, t0, rate, len(changes), _reach(today, left, rate),
                    _reach(today, left, high), _reach(today, left, low))  # fmt: skip


def _reach(today: date, left: int, rate: float) -> date | None:
    if left <= 0:
        return today
    return today + timedelta(days=math.ceil(left / rate)) if rate > 0 else None


def _band(changes: list[int]) -> tuple[float, float]:
    if len(changes) < 2:
        return changes[0], changes[0]
    deciles = statistics.quantiles(changes, n=10, method="inclusive")
    return deciles[0], deciles[-1]


def _days(history: History, today: date) -> list[date]:
    starts = [d for _, d, _ in history.changes]
    starts += [start.astimezone(UTC).date() for _, start, _ in history.waivers]
    starts += [signed.astimezone(UTC).date() for _, signed, _, _ in history.signoffs]
    first = max(min(starts, default=today), today - timedelta(days=HISTORY_DAYS - 1))
    return [first + timedelta(days=n) for n in range((today - first).days + 1)]


def _day(history: History, statuses: dict, day: date, now: datetime) -> Day:
    moment = min(datetime.combine(day + timedelta(days=1), time(), UTC), now)
    is_today = moment == now
    counts = Counter(dict.fromkeys(GATE_STATUSES, 0))
    for gate in history.gates:
        if is_today and gate in history.current:
            status = history.current[gate]
        else:
            days, said = statuses.get(gate, ([], []))
            at = bisect_right(days, day)
            status = said[at - 1] if at else "pending"
        if status not in ("passing", "waived") and _waived(history, gate, moment):
            status = "waived"
        counts[status] += 1
    approved = sum(_approved(history, role, moment) for role in history.roles)
    return Day(day, dict(counts), approved, len(history.roles) - approved)


def _gate_statuses(history: History) -> dict[int, tuple[list[date], list[str]]]:
    by_gate: dict[int, tuple[list[date], list[str]]] = defaultdict(lambda: ([], []))
    for gate, day, status in sorted(history.changes, key=lambda c: (c[0], c[1])):
        by_gate[gate][0].append(day)
        by_gate[gate][1].append(status)
    return by_gate


def _waived(history: History, gate: int, moment: datetime) -> bool:
    return any(g == gate and start <= moment < until for g, start, until in history.waivers)


def _approved(history: History, role: int, moment: datetime) -> bool:
    signed = [s for s in history.signoffs if s[0] == role and s[1] <= moment]
    if not signed:
        return False
    _, _, approves, void = max(signed, key=lambda s: s[1])
    return approves and (void is None or void > moment)


def launch_forecast(launch, now: datetime, *, gates=None, roles=None) -> Forecast:
    """`launch`'s forecast as of `now` (load_history's queries, then pure)."""
    history = load_history(launch, now, gates=gates, roles=roles)
    return forecast(history, now=now, t0=launch.target_t0.astimezone(UTC).date())


def load_history(launch, now: datetime, *, gates=None, roles=None) -> History:
    """The history of `launch`'s blocking gates and required roles: two queries whatever its
    length (one more each for the gates and the roles when the caller has not loaded them).

    `gates`: its active gates with `.status` set (Gate.current_status), which counts for today;
    `roles`: its active roles.
    """
    if gates is None:
        gates = list(Gate.objects.filter(launch=launch, blocking=True).for_dashboard(now))
        for gate in gates:
            gate.status = gate.current_status(now)[0]
    if roles is None:
        roles = list(launch.roles.filter(retired_at__isnull=True))
    gate_ids = [g.pk for g in gates if g.blocking]
    role_ids = [r.pk for r in roles if r.required]
    waivers, signoffs = _waivers_and_signoffs(gate_ids, role_ids)
    return History(gate_ids, role_ids, _daily_changes(gate_ids), waivers, signoffs,
                   current={g.pk: g.status for g in gates if g.blocking})  # fmt: skip


def _daily_changes(gate_ids: list[int]) -> list[tuple[int, date, str]]:
    # One row per gate and day (its last status that day), counted in the database.
    day = TruncDate("at", tzinfo=UTC)
    last = Window(FirstValue("to_status"), partition_by=[F("gate_id"), day],
                  order_by=[F("at").desc(), F("id").desc()])  # fmt: skip
    rows = (
        StatusChange.objects.filter(gate_id__in=gate_ids)
        .annotate(day=day, last=last)
        .order_by()
        .values_list("gate_id", "day", "last")
        .distinct()
    )
    return list(rows)


def _waivers_and_signoffs(gate_ids: list[int], role_ids: list[int]) -> tuple[list, list]:
    """Approved waivers and sign-offs as one UNION query of (kind, id, from, until, void,
    approves)."""
    shape = ("kind", "ref", "start", "until", "void", "approves")
    waivers = Waiver.objects.filter(gate_id__in=gate_ids, granted_at__isnull=False).annotate(
        kind=Value("w"), ref=F("gate_id"), start=F("granted_at"), until=F("expires_at"),
        void=F("revoked_at"), approves=Value(True, BooleanField()),
    )  # fmt: skip
    signoffs = SignOff.objects.filter(role_id__in=role_ids).annotate(
        kind=Value("s"), ref=F("role_id"), start=F("signed_at"), until=F("invalidated_at"),
        void=Value(None, DateTimeField()),
        approves=Q(decision__in=APPROVALS),
    )  # fmt: skip
    rows = waivers.order_by().values_list(*shape).union(signoffs.order_by().values_list(*shape))
    found_waivers, found_signoffs = [], []
    for kind, ref, start, until, void, approves in rows:
        if kind == "w":
            found_waivers.append((ref, start, min(until, void) if void else until))
        else:
            found_signoffs.append((ref, start, approves, until))
    return found_waivers, found_signoffs


STACK = ("passing", "waived", "approved", "failing", "unknown", "pending", "awaited")


@dataclass
class Chart:
    """The burn-up's geometry, for templates/launches/overview_forecast.html."""

    width: int
    height: int
    left: int
    bottom: int
    columns: list[tuple[float, float, str, list[tuple[str, float, float]]]]  # x, w, title, stack
    total_y: float
    projection: str  # "x1,y1 x2,y2", or empty
    band: str  # polygon points, or empty
    t0_x: float | None
    x_ticks: list[tuple[float, str]] = field(default_factory=list)


def chart(fc: Forecast, *, width: int = 640, height: int = 170, left: int = 30) -> Chart:
    """Stacked columns a day (done at the bottom), the projection to the total and its band."""
    first, today, top, bottom = fc.days[0].day, fc.today.day, 8, height - 20
    seen = [d for d in (fc.t0, fc.ready_on, fc.latest) if d and (d - today).days <= HORIZON_DAYS]
    last = max([today, *seen])
    step = (width - left - 6) / ((last - first).days + 1)
    total = max(fc.total, 1)

    def x_of(day: date) -> float:
        return round(left + (day - first).days * step + step / 2, 1)

    def y_of(count: float) -> float:
        return round(bottom - min(count, total) / total * (bottom - top), 1)

    columns = [(round(x_of(d.day) - step * 0.4, 1), round(max(step * 0.8, 1), 1),
                _title(d), _stack(d, y_of)) for d in fc.days]  # fmt: skip
    here = f"{x_of(today)},{y_of(fc.today.done)}"
    projection = f"{here} {x_of(fc.ready_on)},{y_of(total)}" if fc.ready_on in seen else ""
    band = ""
    if fc.earliest and fc.earliest != fc.latest and (fc.earliest - today).days <= HORIZON_DAYS:
        end = fc.latest if fc.latest in seen else last
        end_y = y_of(total) if fc.latest in seen else y_of(fc.today.done)
        band = f"{here} {x_of(fc.earliest)},{y_of(total)} {x_of(end)},{end_y}"
    t0_x = x_of(fc.t0) if first <= fc.t0 <= last else None
    ticks = [(x_of(d), f"{d:%m-%d}") for d in (first, today, *seen)]
    return Chart(width, height, left, bottom, columns, y_of(total), projection, band, t0_x,
                 list(dict.fromkeys(ticks)))  # fmt: skip


def _stack(day: Day, y_of) -> list[tuple[str, float, float]]:
    counts = {**day.gates, "approved": day.approved, "awaited": day.awaited}
    out, below = [], 0
    for name in STACK:
        if counts[name]:
            y = y_of(below + counts[name])
            out.append((name, y, round(y_of(below) - y, 1)))
            below += counts[name]
    return out


def _title(day: Day) -> str:
    counts = ", ".join(f"{n} {name}" for name, n in day.gates.items() if n)
    signed = f"sign-offs {day.approved} approved, {day.awaited} awaited"
    return f"{day.day:%Y-%m-%d}: {counts or 'no gates'}; {signed}; done {day.done}"
