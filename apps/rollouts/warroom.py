"""The war room (/launches/<slug>/war-room/): what the launch-day screen shows from T-1h to T+24h,
assembled as plain data in a fixed number of queries however many readings, stages or events the
launch has; and the two things a launch admin may do there (start a run, roll it back), through
the services that hold their rules."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import F, Q, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.history import sparkline
from apps.gates.models import format_decimal
from apps.launches.models import Launch, Shift
from apps.rollouts.models import (
    WINDOW_CLOSES,
    WINDOW_OPENS,
    AnalysisReading,
    CriterionKind,
    Rollout,
    RolloutCriterion,
    RolloutRun,
    RunStatus,
    StageRun,
)
from apps.rollouts.services import RolloutRefused, roll_back, start_refusal, start_run
from apps.signoffs.models import Assignment, Duty, GoNoGo
from apps.signoffs.permissions import administers

SPARK_READINGS = 60  # a sparkline draws a criterion's newest readings of the stage, at most these
EVENTS = 15
REASON_MAX = 1000  # a rollback's reason, as typed by a person


# --- the T clock --------------------------------------------------------------------------------


def t_clock(t0: datetime, now: datetime) -> str:
    """T-01:02:03 before T-0, T+... after; days written out beyond 24 hours (T-3d 04:00:00). The
    browser ticks the same text on (static/js/live.js)."""
    left = round((t0 - now).total_seconds())
    sign = "T-" if left >= 0 else "T+"
    left = abs(left)
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{f'{days}d ' if days else ''}{hours:02d}:{minutes:02d}:{seconds:02d}"


def window_state(t0: datetime, now: datetime) -> str:
    """Where `now` stands against the launch-day window (T-1h to T+24h), in words."""
    opens, closes = t0 + WINDOW_OPENS, t0 + WINDOW_CLOSES
    if now < opens:
        return f"the launch-day window opens at T-1h, {opens:%Y-%m-%d %H:%M} UTC"
    if now <= closes:
        return f"inside the launch-day window (T-1h to T+24h, until {closes:%Y-%m-%d %H:%M} UTC)"
    return f"the launch-day window closed at T+24h, {closes:%Y-%m-%d %H:%M} UTC"


# --- the decision -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Standing:
    """The Go/No-Go in force, as the war room words it."""

    label: str  # Go, No-Go, Go with override, No decision
    css: str  # go, no-go, override, none
    decision: object | None = None  # the LaunchDecision


def standing(launch: Launch) -> Standing:
    decision = launch.current_decision()
    if decision is None:
        return Standing("No decision", "none")
    if decision.decision == GoNoGo.GO and decision.override:
        return Standing("Go with override", "override", decision)
    if decision.decision == GoNoGo.GO:
        return Standing("Go", "go", decision)
    return Standing("No-Go", "no-go", decision)


# --- the run, its stage and its criteria --------------------------------------------------------


@dataclass
class Row:
    """A stage criterion or a rollback trigger, with its newest reading and a sparkline."""

    name: str
    kind: str
    rule: str  # "< 1 %"
    status: str = "pending"  # passing, failing, unknown; pending: not read yet
    value: str = ""
    unit: str = ""
    reason: str = "not read yet"
    at: datetime | None = None
    spark: str = ""
    readings: int = 0

    @property
    def verdict(self) -> str:
        """The status in words: a trigger that holds has fired."""
        if self.kind == CriterionKind.TRIGGER:
            return {"failing": "fired", "passing": "not fired"}.get(self.status, self.status)
        return self.status

    @property
    def fired(self) -> bool:
        return self.kind == CriterionKind.TRIGGER and self.status == "failing"


@dataclass
class RunView:
    run: RolloutRun
    stages: list[StageRun]
    stage: StageRun | None
    in_stage: timedelta | None

    @property
    def under_way(self) -> bool:
        return self.run.status == RunStatus.RUNNING

    @property
    def in_stage_text(self) -> str:
        return span_text(self.in_stage) if self.in_stage is not None else ""

    @property
    def duration_text(self) -> str:
        duration = self.stage.duration if self.stage else None
        return span_text(duration) if duration else ""


def span_text(span: timedelta) -> str:
    """12m 05s, 1h 02m: how long a stage has run, or is to run."""
    seconds = max(int(span.total_seconds()), 0)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


def run_view(run: RolloutRun | None, now: datetime) -> RunView | None:
    """The run with its stages (one query) and the stage under way or last under way."""
    if run is None:
        return None
    stages = list(run.stages.all())
    stage = next((s for s in stages if s.order == run.current_order), None)
    in_stage = stage.elapsed(now) if stage and stage.started_at else None
    return RunView(run, stages, stage, in_stage)


def criteria_rows(rollout: Rollout | None, view: RunView | None) -> tuple[list[Row], list[Row]]:
    """The current stage's criteria and the rollback triggers, each with its newest readings
    (two queries: the rules, and at most SPARK_READINGS readings of each)."""
    stage = view.stage if view else None
    wanted = Q(kind=CriterionKind.TRIGGER)
    if stage is not None and stage.stage_id:
        wanted |= Q(kind=CriterionKind.STAGE, stage_id=stage.stage_id)
    rules = []
    if rollout is not None:  # without one (removed from the spec), the readings' own copies
        rules = list(RolloutCriterion.objects.filter(rollout=rollout).filter(wanted)
                     .order_by("order", "pk"))  # fmt: skip
    rows = {(c.kind, c.name): Row(c.name, c.kind, c.rule_text(), unit=c.unit) for c in rules}
    thresholds = {(c.kind, c.name): c.threshold for c in rules}
    if view is not None:
        _add_readings(rows, thresholds, view.run, stage)
    ordered = list(rows.values())
    return (
        [r for r in ordered if r.kind == CriterionKind.STAGE],
        [r for r in ordered if r.kind == CriterionKind.TRIGGER],
    )


def newest_readings(run: RolloutRun, stage: StageRun | None) -> list[tuple]:
    """The newest SPARK_READINGS readings of each of the stage's criteria and of each trigger
    over the run, oldest first, in one query; only the columns drawn (not the evidence)."""
    wanted = Q(kind=CriterionKind.TRIGGER)
    if stage is not None:
        wanted |= Q(kind=CriterionKind.STAGE, stage=stage)
    ranked = (
        AnalysisReading.objects.filter(run=run).filter(wanted)
        .annotate(rank=Window(RowNumber(), partition_by=[F("kind"), F("name")],
                              order_by=[F("slot").desc(), F("id").desc()]))
        .filter(rank__lte=SPARK_READINGS)
        .order_by("kind", "name", "slot", "id")
    )  # fmt: skip
    return list(
        ranked.values_list(
            "kind", "name", "at", "value", "status", "reason", "comparator", "threshold", "unit"
        )  # fmt: skip
    )


def _add_readings(rows: dict, thresholds: dict, run: RolloutRun, stage: StageRun | None) -> None:
    series: dict[tuple, list] = {}
    for kind, name, at, value, status, reason, comparator, threshold, unit in newest_readings(
        run, stage
    ):
        key = (kind, name)
        if key not in rows:  # renamed or removed from the spec since: the reading's own copy
            rule = f"{comparator} {format_decimal(threshold)} {unit}"
            rows[key] = Row(name, kind, rule, unit=unit)
            thresholds[key] = threshold
        series.setdefault(key, []).append((at, value, status, reason))
    for key, points in series.items():
        row, (at, value, status, reason) = rows[key], points[-1]
        row.status, row.reason, row.at, row.readings = status, reason, at, len(points)
        row.value = format_decimal(value) if value is not None else "no value"
        row.spark = sparkline([(t, v, s) for t, v, s, _ in points], thresholds[key])


# --- who is on duty -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OnDuty:
    name: str
    duty: str  # what they do on launch day, in words
    note: str = ""  # "for X until Y" for a delegate


LAUNCH_DAY_DUTIES = {
    Duty.ADMIN: "Launch admin: starts and rolls back the rollout",
    Duty.PROGRAM_MANAGER: "Program manager: emailed when a run rolls back",
}


def on_duty(launch: Launch, now: datetime) -> list[OnDuty]:
    """Who acts on launch day, from the launch's assignments in force now (one query): the
    holders of the decision role (whose No-Go rolls a run back), the launch admins, the program
    managers. Shown after the spec's on-call shifts (Launch.on_duty), under "Also"."""
    wanted = Q(duty__in=list(LAUNCH_DAY_DUTIES))
    if launch.decision_role:
        wanted |= Q(duty=Duty.SIGNER, role__key=launch.decision_role)
    assignments = (
        Assignment.objects.current(now).filter(launch=launch).filter(wanted)
        .select_related("user", "role", "delegate_of").order_by("duty", "user__last_name", "pk")
    )  # fmt: skip
    people = [_on_duty(a) for a in assignments]
    return sorted(people, key=lambda p: not p.duty.startswith("Decides"))


def _on_duty(assignment: Assignment) -> OnDuty:
    name = _person(assignment.user)
    if assignment.duty != Duty.SIGNER:
        return OnDuty(name, LAUNCH_DAY_DUTIES[assignment.duty])
    duty = f"Decides the Go/No-Go ({assignment.role.name}); a No-Go rolls the run back"
    if assignment.delegate_of_id is None:
        return OnDuty(name, duty)
    until = f"{assignment.valid_until:%Y-%m-%d %H:%M} UTC"
    return OnDuty(name, duty, f"standing in for {_person(assignment.delegate_of)} until {until}")


def _person(user) -> str:
    return user.get_full_name() or user.get_username()


# --- the newest events --------------------------------------------------------------------------

PHRASES = {
    "rollout.started": "started rollout run {run}",
    "rollout.stage_started": "stage {stage} ({traffic}%) started",
    "rollout.stage_passed": "stage {stage} passed",
    "rollout.stage_failed": "stage {stage} failed: {reason}",
    "rollout.stage_inconclusive": "stage {stage} is inconclusive: {reason}",
    "rollout.rollback": "rolled run {run} back: {reason}",
    "rollout.passed": "run {run} passed every stage",
    "launch.decided": "recorded the Go/No-Go: {decision}",
    "gate.status_changed": "gate {key}: {from} → {to}",
    "postlaunch.started": "post-launch validation started",
}


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    text: str
    action: str


def newest_events(launch: Launch) -> list[Event]:
    """The launch's newest EVENTS audit events, newest first, in words (one query)."""
    rows = AuditEvent.objects.for_launch(launch.slug).reverse()[:EVENTS]
    return [Event(e.at, e.actor_name, describe(e), e.action) for e in rows]


def describe(event: AuditEvent) -> str:
    data = event.data if isinstance(event.data, dict) else {}
    phrase = PHRASES.get(event.action)
    if phrase is not None:
        try:
            return phrase.format_map({"key": event.object_key, **data})
        except (KeyError, IndexError, ValueError):
            pass  # an older event without these fields: said plainly below
    return f"{event.action} {event.object_key}".strip()


# --- the whole screen ---------------------------------------------------------------------------


@dataclass
class WarRoom:
    launch: Launch
    now: datetime
    clock: str
    window: str
    decision: Standing
    rollout: Rollout | None
    plan: list = field(default_factory=list)  # (stage, duration text) before any run started
    run: RunView | None = None
    criteria: list[Row] = field(default_factory=list)
    triggers: list[Row] = field(default_factory=list)
    on_call: list[Shift] = field(default_factory=list)  # the spec's shifts on now
    on_duty: list[OnDuty] = field(default_factory=list)  # from the assignments ("Also")
    events: list[Event] = field(default_factory=list)
    may_act: bool = False  # a launch admin: the buttons are shown
    start_refusal: str = ""  # why a start would be refused now (shown beside the button)

    @property
    def fired(self) -> list[Row]:
        return [t for t in self.triggers if t.fired]


def war_room(launch: Launch, user, now: datetime | None = None) -> WarRoom:
    """Everything the war room shows, in a fixed number of queries (pinned by a test)."""
    now = now or timezone.now()
    rollout = Rollout.objects.filter(launch=launch).first()
    view = run_view(launch.rollout_runs.first(), now)
    criteria, triggers = criteria_rows(rollout, view)
    room = WarRoom(
        launch=launch, now=now, clock=t_clock(launch.target_t0, now),
        window=window_state(launch.target_t0, now), decision=standing(launch), rollout=rollout,
        run=view, criteria=criteria, triggers=triggers, on_call=launch.on_duty(now),
        on_duty=on_duty(launch, now),
        events=newest_events(launch), may_act=administers(user, launch),
    )  # fmt: skip
    if rollout is not None and view is None:
        room.plan = [(s, span_text(s.duration) if s.duration else "") for s in rollout.stages.all()]
    if room.may_act and not (view and view.under_way) and not launch.is_closed:
        room.start_refusal = start_refusal(launch, now)
    return room


# --- what a launch admin does there -------------------------------------------------------------


def start_from_war_room(*, launch: Launch, user, now=None) -> RolloutRun:
    """Start a run driven by the portal: start_run holds the rules (a launch admin, a Go, the
    T-0 window, one run at a time) and raises RolloutRefused."""
    return start_run(launch=launch, actor=user, now=now)


def roll_back_from_war_room(*, launch: Launch, user, run_id, reason: str, now=None) -> RolloutRun:
    """Roll back the run the person saw under way, for the reason they gave.

    Refused (RolloutRefused) with nothing changed: no reason or one over REASON_MAX characters
    (400), a run of another launch or none (404), a run no longer under way (409), anyone but a
    launch admin (403, roll_back's rule).
    """
    reason = (reason or "").strip()
    if not reason:
        raise RolloutRefused(400, "say why the run is rolled back")
    if len(reason) > REASON_MAX:
        raise RolloutRefused(400, f"the reason is over {REASON_MAX} characters")
    run = _run_of(launch, run_id)
    if run.status != RunStatus.RUNNING:
        raise RolloutRefused(409, f"run {run.pk} is no longer under way ({run.status})")
    done = roll_back(run=run, actor=user, reason=reason, now=now)
    if done.status != RunStatus.ROLLBACK or done.reason != reason:  # it ended meanwhile
        raise RolloutRefused(409, f"run {done.pk} ended meanwhile ({done.status}: {done.reason})")
    return done


def _run_of(launch: Launch, run_id) -> RolloutRun:
    try:
        pk = int(run_id)
    except (TypeError, ValueError):
        raise RolloutRefused(404, "no such rollout run") from None
    run = RolloutRun.objects.select_related("launch").filter(launch=launch, pk=pk).first()
    if run is None:
        raise RolloutRefused(404, "no such rollout run of this launch")
    return run
