"""Post-launch validation (8.5): over the rollout's `post_launch` window, each check is read on the
rollout's interval like a gate (the gates' Prometheus source, the gates' rule that no data is not
healthy) together with the same query `baseline_offset` earlier (PromQL `offset`). When the window
has elapsed the validation is passed, failed or inconclusive. `post_launch_summary` is the one
home pages, the closure report and the API read it from.

It starts when a rollout run passes its last stage, or when a launch admin starts it. User
acceptance and lessons learned stay attestations: the launch's manual `post-launch` gates.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import record
from apps.gates.models import Gate, GateStatus, Source, format_decimal
from apps.gates.rules import storable
from apps.gates.sources import SourceError, prometheus
from apps.launches.durations import format_duration
from apps.launches.models import Launch
from apps.rollouts.models import (
    DEFAULT_BASELINE_OFFSET,
    DEFAULT_POST_LAUNCH_WINDOW,
    CriterionKind,
    PostLaunchReading,
    PostLaunchValidation,
    Rollout,
    RolloutCriterion,
    RolloutRun,
    ValidationStatus,
)
from apps.rollouts.rules import FAILING, UNKNOWN, fill_query, outcome, reading_verdict
from apps.signoffs.permissions import administers

NOT_STARTED = "not_started"
ATTESTATION_CATEGORY = "post-launch"  # the manual gates of 8.5: user acceptance, lessons learned
# The baseline reads the whole expression at one instant `offset` earlier: a subquery of one
# step, so that `offset` shifts every selector in it (also `or vector(0)`, functions, ...).
BASELINE_STEP = "1s"


class ValidationRefused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


# --- rules (pure) ---------------------------------------------------------------------------------


def baseline_query(query: str, offset: timedelta) -> str:
    """The query as it read `offset` earlier.

    PromQL's `offset` modifies one selector (`x[5m] offset 7d`), not an expression; wrapping the
    whole query in a one-step subquery and offsetting that shifts every selector inside at once,
    whatever the query is made of. `last_over_time` turns the subquery back into an instant
    vector: the value at the newest step at or before `offset` ago.
    """
    step = BASELINE_STEP
    return f"last_over_time(({query})[{step}:{step}] offset {format_duration(offset)})"


def query_window(*, started_at: datetime, ends_at: datetime, slot: datetime,
                 interval: timedelta) -> timedelta:  # fmt: skip
    """`{{window}}` of a post-launch check: the time since the validation started (whole seconds,
    at least one interval, at most the whole window), so the last analysis covers the window."""
    elapsed = min(slot, ends_at) - started_at
    seconds = int(max(elapsed, interval).total_seconds())
    return min(timedelta(seconds=seconds), ends_at - started_at)


def final_verdict(final: dict[str, str], *, failures: int, inconclusives: int,
                  failure_limit: int, inconclusive_limit: int) -> tuple[str, str]:  # fmt: skip
    """(status, reason) when the window has elapsed, from each check's status at its end and the
    tally of the analyses over the window: failed when a check fails at the end or failures
    reached the failure limit; inconclusive when a check is unknown at the end (no data is not
    healthy), unknowns reached the inconclusive limit, or nothing was checked; else passed."""
    failing = sorted(name for name, status in final.items() if status == FAILING)
    unknown = sorted(name for name, status in final.items() if status == UNKNOWN)
    if failing:
        return ValidationStatus.FAILED, f"failing at the end of the window: {', '.join(failing)}"
    if failures >= failure_limit:
        return ValidationStatus.FAILED, f"{failures} analyses failed (limit {failure_limit})"
    if not final:
        return ValidationStatus.INCONCLUSIVE, "no post-launch check was read"
    if unknown:
        return (
            ValidationStatus.INCONCLUSIVE,
            f"unknown at the end of the window: {', '.join(unknown)}",
        )
    if inconclusives >= inconclusive_limit:
        return (ValidationStatus.INCONCLUSIVE,
                f"{inconclusives} analyses were unknown (limit {inconclusive_limit})")  # fmt: skip
    return ValidationStatus.PASSED, f"every check passing at the end of the window ({len(final)})"


def change(
    value: Decimal | None, baseline: Decimal | None
) -> tuple[Decimal | None, Decimal | None]:
    """(absolute, percent) change from the baseline; percent is None for a zero baseline."""
    if value is None or baseline is None:
        return None, None
    delta = value - baseline
    if baseline == 0:
        return delta, None
    return delta, (delta * 100 / abs(baseline)).quantize(Decimal("0.01"))


# --- the summary: the one home of what pages, the report and the API show -------------------------


@dataclass(frozen=True)
class ComparisonRow:
    """One post-launch check at the newest analysis, beside its baseline."""

    name: str
    rule: str
    unit: str
    query: str = ""
    baseline_query: str = ""
    value: Decimal | None = None
    baseline: Decimal | None = None
    change: Decimal | None = None
    change_percent: Decimal | None = None
    status: str = GateStatus.PENDING
    reason: str = ""
    baseline_reason: str = ""
    at: datetime | None = None

    def text(self, number: Decimal | None, *, signed: bool = False) -> str:
        if number is None:
            return "none"
        sign = "+" if signed and number > 0 else ""
        return f"{sign}{format_decimal(number)} {self.unit}".strip()

    @property
    def value_text(self) -> str:
        return self.text(self.value)

    @property
    def baseline_text(self) -> str:
        return self.text(self.baseline)

    @property
    def change_text(self) -> str:
        if self.change is None:
            return "none"
        percent = "" if self.change_percent is None else f" ({self.change_percent:+}%)"
        return f"{self.text(self.change, signed=True)}{percent}"


@dataclass(frozen=True)
class Attestation:
    key: str
    name: str
    status: str
    reason: str

    @property
    def done(self) -> bool:
        return self.status in (GateStatus.PASSING, GateStatus.WAIVED)


@dataclass(frozen=True)
class PostLaunchSummary:
    """Where a launch's post-launch validation stands (its newest), with the comparison table."""

    state: str  # not_started, running, passed, failed, inconclusive
    has_checks: bool
    window: timedelta | None = None
    baseline_offset: timedelta | None = None
    window_start: datetime | None = None
    window_end: datetime | None = None
    finished_at: datetime | None = None
    reason: str = ""
    started_by: str = ""
    validation_id: int | None = None
    run_id: int | None = None
    analyses: int = 0
    failures: int = 0
    inconclusives: int = 0
    failure_limit: int = 0
    inconclusive_limit: int = 0
    rows: list[ComparisonRow] = field(default_factory=list)
    attestations: list[Attestation] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.state in ValidationStatus.values and self.state != ValidationStatus.RUNNING

    @property
    def state_text(self) -> str:
        if self.state == NOT_STARTED:
            return "Not started"
        return ValidationStatus(self.state).label

    @property
    def baseline_text(self) -> str:
        return format_duration(self.baseline_offset) if self.baseline_offset else ""

    @property
    def window_text(self) -> str:
        return format_duration(self.window) if self.window else ""


def post_launch_summary(launch: Launch, now: datetime | None = None) -> PostLaunchSummary:
    """The launch's newest post-launch validation, its comparison table (each check's newest
    reading with its baseline) and the user-acceptance / lessons-learned attestations."""
    now = now or timezone.now()
    rollout = Rollout.objects.filter(launch=launch).first()
    checks = _checks(launch)
    attestations = post_launch_attestations(launch, now)
    validation = PostLaunchValidation.objects.filter(launch=launch).first()
    if validation is None:
        window = (rollout.post_launch_window or DEFAULT_POST_LAUNCH_WINDOW) if rollout else None
        rows = [ComparisonRow(name=c.name, rule=c.rule_text(), unit=c.unit) for c in checks]
        return PostLaunchSummary(
            state=NOT_STARTED, has_checks=bool(checks), window=window,
            baseline_offset=rollout.baseline_offset if rollout else None, rows=rows,
            attestations=attestations,
        )  # fmt: skip
    return PostLaunchSummary(
        state=validation.status, has_checks=bool(checks), window=validation.window,
        baseline_offset=validation.baseline_offset, window_start=validation.started_at,
        window_end=validation.ends_at, finished_at=validation.finished_at,
        reason=validation.reason, started_by=validation.started_by, validation_id=validation.pk,
        run_id=validation.run_id, analyses=validation.analyses, failures=validation.failures,
        inconclusives=validation.inconclusives, failure_limit=validation.failure_limit,
        inconclusive_limit=validation.inconclusive_limit, rows=_rows(validation, checks),
        attestations=attestations,
    )  # fmt: skip


def _rows(validation: PostLaunchValidation, checks: list[RolloutCriterion]) -> list[ComparisonRow]:
    newest = validation.readings.order_by("-slot").values_list("slot", flat=True).first()
    readings = list(validation.readings.filter(slot=newest).order_by("order", "name"))
    rows = [_row(r) for r in readings]
    read = {r.name for r in readings}
    rows += [ComparisonRow(name=c.name, rule=c.rule_text(), unit=c.unit)
             for c in checks if c.name not in read]  # fmt: skip
    return rows


def _row(reading: PostLaunchReading) -> ComparisonRow:
    absolute, percent = change(reading.value, reading.baseline)
    rule = f"{reading.comparator} {format_decimal(reading.threshold)} {reading.unit}"
    return ComparisonRow(
        name=reading.name, rule=rule, unit=reading.unit, query=reading.query,
        baseline_query=reading.baseline_query, value=reading.value, baseline=reading.baseline,
        change=absolute, change_percent=percent, status=reading.status, reason=reading.reason,
        baseline_reason=reading.baseline_reason, at=reading.at,
    )  # fmt: skip


def post_launch_attestations(launch: Launch, now: datetime | None = None) -> list[Attestation]:
    """The launch's manual post-launch gates (user acceptance, lessons learned), as of `now`."""
    now = now or timezone.now()
    gates = Gate.objects.filter(launch=launch, category=ATTESTATION_CATEGORY,
                                source=Source.MANUAL).for_dashboard(now)  # fmt: skip
    found = []
    for gate in gates:
        status, reason = gate.current_status(now)
        found.append(Attestation(gate.key, gate.name, status, reason))
    return found


def _checks(launch: Launch) -> list[RolloutCriterion]:
    criteria = RolloutCriterion.objects.filter(
        rollout__launch=launch, kind=CriterionKind.POST_LAUNCH
    )
    return list(criteria.order_by("order", "pk"))


# --- starting -------------------------------------------------------------------------------------


def start_validation(*, launch: Launch, actor, now: datetime | None = None) -> PostLaunchValidation:
    """A launch admin starts the post-launch window now (the rollout ran outside the portal, or a
    validation is to be run again). Refused: 403 to anyone else; 404 without post-launch checks;
    409 while one is under way or the launch is closed (LaunchClosed)."""
    now = now or timezone.now()
    if not administers(actor, launch):
        raise ValidationRefused(403, "only a launch admin starts the post-launch validation")
    launch.refuse_if_closed()
    if not _checks(launch):
        raise ValidationRefused(404, "the launch spec has no rollout.post_launch checks")
    try:
        with transaction.atomic():
            return _create(launch, actor, None, now)
    except IntegrityError:
        raise ValidationRefused(409, "a post-launch validation is already under way") from None


def start_after_run(*, run: RolloutRun, actor, now: datetime) -> PostLaunchValidation | None:
    """A run passed its last stage: the post-launch window opens now, unless the launch has no
    post-launch checks or a validation is already under way. Call inside the run's transaction."""
    if not _checks(run.launch) or run.launch.is_closed:
        return None
    try:
        with transaction.atomic():  # a savepoint: the run's own change stands either way
            return _create(run.launch, actor, run, now)
    except IntegrityError:  # one is under way
        return None


def _create(launch: Launch, actor, run: RolloutRun | None, now: datetime) -> PostLaunchValidation:
    rollout = launch.rollout
    window = rollout.post_launch_window or DEFAULT_POST_LAUNCH_WINDOW
    validation = PostLaunchValidation.objects.create(
        launch=launch, run=run, started_by=_name(actor), started_at=now, ends_at=now + window,
        interval=rollout.interval,
        baseline_offset=rollout.baseline_offset or DEFAULT_BASELINE_OFFSET,
        failure_limit=rollout.failure_limit, inconclusive_limit=rollout.inconclusive_limit,
        next_due_at=now,
    )  # fmt: skip
    _record(validation, actor, "postlaunch.started", {
        "run": run.pk if run else None, "window": format_duration(window),
        "ends_at": validation.ends_at.isoformat(),
        "baseline_offset": format_duration(validation.baseline_offset),
    })  # fmt: skip
    return validation


# --- analysis -------------------------------------------------------------------------------------


def claim_due(now: datetime) -> list[tuple[int, datetime]]:
    """Claim each validation under way (of an open launch) whose analysis is due: (id, slot).

    The claim is a conditional UPDATE (next_due_at still what was read), so of two tickers one
    wins. The slot at or after the window's end is the last: nothing is due after it.
    """
    claimed = []
    due = PostLaunchValidation.objects.due(now).filter(launch__closed_at__isnull=True)
    for pk, due_at, interval, ends_at in due.values_list(
        "id", "next_due_at", "interval", "ends_at"
    ):
        following = None if due_at >= ends_at else min(now + interval, ends_at)
        won = PostLaunchValidation.objects.filter(
            pk=pk, status=ValidationStatus.RUNNING, next_due_at=due_at
        ).update(next_due_at=following)
        if won:
            claimed.append((pk, due_at))
    return claimed


def analyse_validation(*, validation_id: int, slot: datetime, now: datetime | None = None,
                       actor="worker") -> list[PostLaunchReading]:  # fmt: skip
    """One analysis: read every check and its baseline from Prometheus outside any transaction,
    then store the readings and tally them in one; at or after the window's end, judge. A
    redelivered slot stores nothing; a closed launch is not read."""
    now = now or timezone.now()
    validation = (
        PostLaunchValidation.objects.select_related("launch").filter(pk=validation_id).first()
    )
    if validation is None or validation.status != ValidationStatus.RUNNING:
        return []
    if validation.launch.is_closed:
        return []
    readings = [_read(validation, check, slot) for check in _checks(validation.launch)]
    with transaction.atomic():
        validation = _locked(validation_id)
        if (
            validation.status != ValidationStatus.RUNNING
            or validation.readings.filter(slot=slot).exists()
        ):
            return []
        stored = PostLaunchReading.objects.bulk_create(readings)
        _tally(validation, stored)
        if slot >= validation.ends_at:
            _conclude(validation, stored, now, actor)
    return stored


def _read(
    validation: PostLaunchValidation, check: RolloutCriterion, slot: datetime
) -> PostLaunchReading:
    """One check and its baseline (network I/O) into an unsaved reading."""
    window = query_window(started_at=validation.started_at, ends_at=validation.ends_at,
                          slot=slot, interval=validation.interval)  # fmt: skip
    query = fill_query(check.query, window=window, stage_start=validation.started_at)
    offset_query = baseline_query(query, validation.baseline_offset)
    value, error, detail = read_prometheus(query)
    baseline, baseline_error, baseline_detail = read_prometheus(offset_query)
    verdict = reading_verdict(kind=check.kind, comparator=check.comparator,
                              threshold=check.threshold, value=value, error=error)  # fmt: skip
    return PostLaunchReading(
        validation=validation, criterion=check, name=check.name, order=check.order, query=query,
        baseline_query=offset_query, comparator=check.comparator, threshold=check.threshold,
        unit=check.unit, value=storable(value), baseline=storable(baseline),
        status=verdict.status, reason=verdict.reason, baseline_reason=baseline_error,
        detail=detail, baseline_detail=baseline_detail, at=timezone.now(), slot=slot,
    )  # fmt: skip


def read_prometheus(query: str) -> tuple[Decimal | None, str, dict]:
    """(value, error, evidence) of one instant query against the operator's Prometheus."""
    try:
        if not settings.PROMETHEUS_URL:
            raise SourceError("source unreachable: no Prometheus configured (set PROMETHEUS_URL)")
        found = prometheus.read(
            url=settings.PROMETHEUS_URL, query=query, timeout=settings.PROMETHEUS_TIMEOUT,
            allowed_hosts=None,  # the operator's own setting, trusted
        )  # fmt: skip
    except SourceError as exc:
        return None, exc.reason, exc.detail
    return found.value, "", found.detail


def _tally(validation: PostLaunchValidation, readings: list[PostLaunchReading]) -> None:
    result = outcome([r.status for r in readings])
    validation.failures += result == FAILING
    validation.inconclusives += result == UNKNOWN
    validation.analyses += 1
    validation.save(update_fields=["failures", "inconclusives", "analyses"])


def _conclude(validation: PostLaunchValidation, readings: list, now: datetime, actor) -> None:
    status, reason = final_verdict(
        {r.name: r.status for r in readings}, failures=validation.failures,
        inconclusives=validation.inconclusives, failure_limit=validation.failure_limit,
        inconclusive_limit=validation.inconclusive_limit,
    )  # fmt: skip
    validation.status, validation.reason, validation.finished_at = status, reason, now
    validation.next_due_at = None
    validation.save(update_fields=["status", "reason", "finished_at", "next_due_at"])
    table = {r.name: {"value": _text(r.value), "baseline": _text(r.baseline), "status": r.status}
             for r in readings}  # fmt: skip
    _record(validation, actor, f"postlaunch.{status}", {
        "reason": reason, "analyses": validation.analyses, "failures": validation.failures,
        "inconclusives": validation.inconclusives, "checks": table,
    })  # fmt: skip


# --- helpers --------------------------------------------------------------------------------------


def _locked(validation_id: int) -> PostLaunchValidation:
    validations = PostLaunchValidation.objects.select_for_update(of=("self",))
    return validations.select_related("launch").get(pk=validation_id)


def _record(validation: PostLaunchValidation, actor, action: str, data: dict) -> None:
    record(actor=actor, action=action, launch_slug=validation.launch.slug,
           obj_type="post_launch_validation", obj_key=str(validation.pk),
           data={"validation": validation.pk, **data})  # fmt: skip


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


def _name(actor) -> str:
    if isinstance(actor, str):
        return actor
    return actor.get_full_name() or actor.get_username()
