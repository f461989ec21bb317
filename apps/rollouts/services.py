"""Rollout runs: started by a deploy tool or a launch admin, analysed on their interval against
Prometheus (the gates' source, with the gates' rule that no data is not healthy), moved on stage
by stage, rolled back at once when a trigger fires or the Go is withdrawn. Every state change is
audited in its transaction; the program managers are emailed when a run rolls back."""

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import record
from apps.gates.rules import storable
from apps.gates.sources import SourceError, prometheus
from apps.launches.models import Launch
from apps.rollouts import notifications, postlaunch
from apps.rollouts.models import (
    AnalysisReading,
    CriterionKind,
    Driver,
    Rollout,
    RolloutCriterion,
    RolloutRun,
    RunStatus,
    StageRun,
    StageStatus,
)
from apps.rollouts.rules import (
    FAILING,
    UNKNOWN,
    Limits,
    Tally,
    fill_query,
    in_window,
    outcome,
    reading_verdict,
    stage_status,
    tallied,
)
from apps.signoffs.models import GoNoGo
from apps.signoffs.permissions import administers


class RolloutRefused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Answer:
    """What the portal answers a deploy tool: an HTTP status, why, and the run concerned."""

    status: int
    detail: str
    run: RolloutRun | None = None


# --- may a rollout go on? -----------------------------------------------------------------------


def decision_refusal(launch: Launch) -> str:
    """Why no Go stands, or '' when one does."""
    decision = launch.current_decision()
    if decision is None:
        return "no Go/No-Go decision is recorded"
    if decision.decision != GoNoGo.GO:
        return f"the decision in force is {decision.get_decision_display()}"
    return ""


def start_refusal(launch: Launch, now) -> str:
    """Why a rollout may not start at `now`, or '': a Go stands and the T-0 window is open."""
    rollout = Rollout.objects.select_related("launch").filter(launch=launch).first()
    if rollout is None:
        return "the launch spec has no rollout"
    if refusal := decision_refusal(launch):
        return refusal
    opens, closes = rollout.window()
    if not in_window(now, (opens, closes)):
        return f"the T-0 window is {opens:%Y-%m-%d %H:%M} to {closes:%Y-%m-%d %H:%M} UTC"
    return ""


# --- starting and moving on ---------------------------------------------------------------------


def start_run(*, launch: Launch, actor, driver: str = Driver.PORTAL, checksum: str = "",
              now=None) -> RolloutRun:  # fmt: skip
    """Start a run of the launch's rollout: by a launch admin (the portal then moves on when a
    stage passes) or by a deploy tool's confirm-rollout (it confirms each traffic increase).

    Refused (403) without a standing Go, outside the T-0 window, or to anyone but a launch admin;
    409 when a run is already under way (one per launch, enforced by the database).
    """
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    if driver == Driver.PORTAL and not administers(actor, launch):
        raise RolloutRefused(403, "only a launch admin starts a rollout")
    if refusal := start_refusal(launch, now):
        raise RolloutRefused(403, refusal)
    try:
        with transaction.atomic():
            run = _create_run(launch, actor, driver, checksum, now)
    except IntegrityError:  # another start won the race
        raise RolloutRefused(409, "a rollout run is already under way") from None
    return run


def _create_run(launch: Launch, actor, driver: str, checksum: str, now) -> RolloutRun:
    rollout = launch.rollout
    run = RolloutRun.objects.create(
        launch=launch, driver=driver, started_by=_name(actor), started_at=now,
        checksum=checksum[:100], interval=rollout.interval, count=rollout.count,
        failure_limit=rollout.failure_limit, inconclusive_limit=rollout.inconclusive_limit,
        next_due_at=now,
    )  # fmt: skip
    stages = StageRun.objects.bulk_create(
        StageRun(run=run, stage=s, order=s.order, name=s.name, traffic=s.traffic,
                 duration=s.duration)
        for s in rollout.stages.all()
    )  # fmt: skip
    names = [s.name for s in stages]
    _record(run, actor, "rollout.started",
            {"driver": driver, "checksum": run.checksum, "stages": names})  # fmt: skip
    if driver == Driver.PORTAL:  # nobody confirms the first traffic step: it starts now
        _start_stage(run, stages[0], now, actor)
    return run


def supersede_run(*, run: RolloutRun, checksum: str, actor, now=None) -> RolloutRun:
    """A new canary revision mid-run (Flagger's confirm-rollout with another `checksum`): end the
    run under way as `superseded` (audited with the old and new checksum; its readings stay) and
    start a run of the new revision (the deploy tool drives it), in one transaction.

    Refused like start_run (403 without a Go in the T-0 window): then nothing changes. 409 when
    the run is no longer under way or already of this revision (another call won the race).
    """
    run.launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    if refusal := start_refusal(run.launch, now):
        raise RolloutRefused(403, refusal)
    new = checksum[:100]
    with transaction.atomic():
        run = _locked(run.pk)
        if run.status != RunStatus.RUNNING or run.checksum == new:
            raise RolloutRefused(409, f"run {run.pk} is {run.status} (revision {run.checksum})")
        stage = run.current_stage()
        if stage is not None and stage.finished_at is None:
            stage.finished_at = now
            stage.save(update_fields=["finished_at"])
        _end(run, RunStatus.SUPERSEDED, f"superseded by canary revision {new}", now)
        _record(run, actor, "rollout.superseded", {"old_checksum": run.checksum,
                "new_checksum": new, "stage": stage.name if stage else None})  # fmt: skip
        return _create_run(run.launch, actor, Driver.DEPLOY_TOOL, new, now)


def move_on(*, launch: Launch, actor, promotion: bool, checksum: str = "", now=None) -> Answer:
    """A deploy tool's confirm-traffic-increase (`promotion` False) or confirm-promotion.

    The first traffic increase starts the first stage; after that, either leaves the current stage
    for the next once it passed (the last one: the run passed). Otherwise 403 with the reason. A
    Go withdrawn meanwhile rolls the run back. Once the run of this revision (`checksum`) passed
    every stage, the answer stays yes.
    """
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    refusal = decision_refusal(launch)
    with transaction.atomic():
        running = RolloutRun.objects.filter(launch=launch, status=RunStatus.RUNNING)
        run = running.select_for_update(of=("self",)).select_related("launch").first()
        if run is None:
            return _after_the_run(launch, checksum)
        if refusal:
            _roll_back(run, actor, f"the Go was withdrawn: {refusal}", now)
            return Answer(403, f"rolled back: the Go was withdrawn: {refusal}", run)
        stage = run.current_stage()
        if stage is None and promotion:
            return Answer(403, "no stage has started: confirm a traffic increase first", run)
        if stage is None:
            first = run.stages.order_by("order").first()
            _start_stage(run, first, now, actor)
            return Answer(200, f"stage {first.name} ({first.traffic}%) starts", run)
        if stage.status != StageStatus.PASSED:
            return Answer(403, not_passed(run, stage, now), run)
        following = _leave(run, stage, now, actor)
        then = f"stage {following.name} ({following.traffic}%) starts" if following else (
            "the rollout is complete")  # fmt: skip
        return Answer(200, f"stage {stage.name} passed; {then}", run)


def not_passed(run: RolloutRun, stage: StageRun, now) -> str:
    """Where a stage stands, in words, for a refused confirmation."""
    parts = [f"{stage.passes_in_row} of {run.count} passing analyses in a row"]
    if stage.duration:
        minutes = int(stage.elapsed(now).total_seconds() // 60)
        parts.append(f"{minutes} of {int(stage.duration.total_seconds() // 60)} minutes")
    parts.append(f"{stage.failures} of {run.failure_limit} failures")
    return f"stage {stage.name} has not passed ({stage.status}): {', '.join(parts)}"


def _after_the_run(launch: Launch, checksum: str) -> Answer:
    last = launch.rollout_runs.first()
    if last is None:
        return Answer(403, "no rollout run: confirm-rollout starts one")
    if last.status == RunStatus.PASSED and last.checksum == checksum[:100]:
        return Answer(200, f"run {last.pk} passed every stage", last)
    ended = f"run {last.pk} ended {last.status}: {last.reason}"
    return Answer(403, f"no rollout run under way: {ended}", last)


def _start_stage(run: RolloutRun, stage: StageRun, now, actor) -> None:
    stage.status, stage.started_at = StageStatus.ANALYSING, now
    stage.save(update_fields=["status", "started_at"])
    run.current_order = stage.order
    run.save(update_fields=["current_order"])
    _record(run, actor, "rollout.stage_started",
            {"stage": stage.name, "traffic": stage.traffic, "order": stage.order})  # fmt: skip


def _leave(run: RolloutRun, stage: StageRun, now, actor) -> StageRun | None:
    """Leave a passed stage for the next one; after the last, the run passed."""
    stage.finished_at = now
    stage.save(update_fields=["finished_at"])
    following = run.stages.filter(order__gt=stage.order).order_by("order").first()
    if following is not None:
        _start_stage(run, following, now, actor)
        return following
    _end(run, RunStatus.PASSED, "every stage passed", now)
    _record(run, actor, "rollout.passed", {"stages": run.stages.count()})
    postlaunch.start_after_run(run=run, actor=actor, now=now)  # 8.5: the post-launch window opens
    return None


def _end(run: RolloutRun, status: str, reason: str, now) -> None:
    run.status, run.reason, run.finished_at = status, reason, now
    run.save(update_fields=["status", "reason", "finished_at"])


def roll_back(*, run: RolloutRun, actor, reason: str, now=None) -> RolloutRun:
    """Mark a run under way `rollback` (the deploy tool's rollback hook then answers 200).

    A person (not a deploy tool's or the worker's name) must be a launch admin: else 403.
    """
    run.launch.refuse_if_closed()  # a closed launch is read-only
    if not isinstance(actor, str) and not administers(actor, run.launch):
        raise RolloutRefused(403, "only a launch admin rolls a run back")
    now = now or timezone.now()
    with transaction.atomic():
        run = _locked(run.pk)
        if run.status == RunStatus.RUNNING:
            _roll_back(run, actor, reason, now)
    return run


def _roll_back(run: RolloutRun, actor, reason: str, now) -> None:
    stage = run.current_stage()
    if stage is not None and stage.finished_at is None:
        stage.finished_at = now
        stage.save(update_fields=["finished_at"])
    _end(run, RunStatus.ROLLBACK, reason, now)
    _record(run, actor, "rollout.rollback",
            {"reason": reason, "stage": stage.name if stage else None})  # fmt: skip
    transaction.on_commit(lambda: notifications.send_rolled_back(run.pk))


def rollback_answer(*, launch: Launch, checksum: str, actor, now=None) -> Answer:
    """Flagger's rollback hook: 200 when the run of this canary revision rolled back (a trigger
    fired, a stage failed, or the Go was withdrawn: then it is rolled back now); else 409."""
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    run = launch.rollout_runs.first()
    if run is None or run.checksum != checksum[:100]:
        return Answer(409, "no rollout run of this revision: nothing to roll back")
    if run.status == RunStatus.RUNNING and (refusal := decision_refusal(launch)):
        run = roll_back(run=run, actor=actor, reason=f"the Go was withdrawn: {refusal}", now=now)
    if run.status in (RunStatus.ROLLBACK, RunStatus.FAILED):
        return Answer(200, f"roll back: {run.reason}", run)
    return Answer(409, f"no rollback: the run is {run.status} and no trigger fired", run)


# --- analysis -----------------------------------------------------------------------------------


def analyse_run(*, run_id: int, slot=None, now=None, actor="worker") -> list[AnalysisReading]:
    """One analysis of a run under way: read the current stage's criteria (while it is being
    analysed) and every rollback trigger from Prometheus, outside any transaction; then store the
    readings and judge them in one. A redelivered slot stores nothing."""
    now = now or timezone.now()
    slot = slot or now
    run = RolloutRun.objects.select_related("launch").filter(pk=run_id).first()
    if run is None or run.status != RunStatus.RUNNING or run.launch.is_closed:
        return []
    stage = run.current_stage()
    criteria = _to_read(run, stage)
    start = stage.started_at if stage else run.started_at
    readings = [
        _read(run, stage, c, slot, window=run.interval, stage_start=start) for c in criteria
    ]
    with transaction.atomic():
        run = _locked(run_id)
        if run.status != RunStatus.RUNNING or run.readings.filter(slot=slot).exists():
            return []
        stored = AnalysisReading.objects.bulk_create(readings)
        current = run.current_stage()
        _judge(run, current if stage and current and current.pk == stage.pk else None,
               stored, now, actor)  # fmt: skip
    return stored


def _to_read(run: RolloutRun, stage: StageRun | None) -> list[RolloutCriterion]:
    criteria = RolloutCriterion.objects.filter(rollout__launch=run.launch_id)
    wanted = list(criteria.filter(kind=CriterionKind.TRIGGER).order_by("order"))
    if stage is not None and stage.status == StageStatus.ANALYSING and stage.stage_id:
        wanted = list(criteria.filter(stage=stage.stage_id).order_by("order")) + wanted
    return wanted


def _read(run, stage, criterion: RolloutCriterion, slot, *, window, stage_start) -> AnalysisReading:
    """Read one criterion (network I/O) into an unsaved reading."""
    query = fill_query(criterion.query, window=window, stage_start=stage_start)
    value, error, detail = None, "", {}
    try:
        if not settings.PROMETHEUS_URL:
            raise SourceError("source unreachable: no Prometheus configured (set PROMETHEUS_URL)")
        found = prometheus.read(
            url=settings.PROMETHEUS_URL, query=query, timeout=settings.PROMETHEUS_TIMEOUT,
            allowed_hosts=None,  # the operator's own setting, trusted
        )  # fmt: skip
        value, detail = found.value, found.detail
    except SourceError as exc:
        error, detail = exc.reason, exc.detail
    verdict = reading_verdict(kind=criterion.kind, comparator=criterion.comparator,
                              threshold=criterion.threshold, value=value, error=error)  # fmt: skip
    return AnalysisReading(
        run=run, stage=stage, criterion=criterion, kind=criterion.kind, name=criterion.name,
        query=query, comparator=criterion.comparator, threshold=criterion.threshold,
        unit=criterion.unit, value=storable(value), status=verdict.status, reason=verdict.reason,
        detail=detail, at=timezone.now(), slot=slot,
    )  # fmt: skip


def _judge(run: RolloutRun, stage: StageRun | None, readings: list, now, actor) -> None:
    """Roll back on a withdrawn Go or a fired trigger; else tally the stage's analysis."""
    if refusal := decision_refusal(run.launch):
        return _roll_back(run, actor, f"the Go was withdrawn: {refusal}", now)
    fired = [r for r in readings if r.kind == CriterionKind.TRIGGER and r.status == FAILING]
    if fired:
        causes = "; ".join(f"{r.name} {r.reason}" for r in fired)
        return _roll_back(run, actor, f"rollback trigger fired: {causes}", now)
    if stage is None or stage.status != StageStatus.ANALYSING:
        return None
    has_criteria = any(r.kind == CriterionKind.STAGE for r in readings)
    result = outcome([r.status for r in readings]) if has_criteria else UNKNOWN
    tally = tallied(Tally(stage.passes_in_row, stage.failures, stage.inconclusives), result)
    limits = Limits(run.count, run.failure_limit, run.inconclusive_limit)
    status = stage_status(tally, limits, elapsed=stage.elapsed(now), duration=stage.duration)
    stage.passes_in_row, stage.failures, stage.inconclusives = (
        tally.passes_in_row, tally.failures, tally.inconclusives)  # fmt: skip
    stage.analyses += 1
    stage.save(update_fields=["passes_in_row", "failures", "inconclusives", "analyses"])
    if status != StageStatus.ANALYSING:
        _stage_ended(run, stage, status, now, actor)
    return None


def _stage_ended(run: RolloutRun, stage: StageRun, status: str, now, actor) -> None:
    stage.status = status
    data = {"stage": stage.name, "passes_in_row": stage.passes_in_row,
            "failures": stage.failures, "inconclusives": stage.inconclusives}  # fmt: skip
    if status == StageStatus.PASSED:
        stage.passed_at = now
        stage.save(update_fields=["status", "passed_at"])
        _record(run, actor, "rollout.stage_passed", data)
        last = not run.stages.filter(order__gt=stage.order).exists()
        if run.driver == Driver.PORTAL or last:  # nothing confirms what follows the last stage
            _leave(run, stage, now, actor)
        return
    stage.finished_at = now
    stage.save(update_fields=["status", "finished_at"])
    limit = run.failure_limit if status == StageStatus.FAILED else run.inconclusive_limit
    reason = f"stage {stage.name} is {status}: {limit} analyses {status}"
    _end(run, status, reason, now)  # RunStatus shares these two values with StageStatus
    _record(run, actor, f"rollout.stage_{status}", {**data, "reason": reason})
    if status == StageStatus.FAILED:
        transaction.on_commit(lambda: notifications.send_rolled_back(run.pk))


# --- helpers ------------------------------------------------------------------------------------


def _locked(run_id: int) -> RolloutRun:
    """The run, its row locked (not its launch's) until the transaction ends."""
    runs = RolloutRun.objects.select_for_update(of=("self",)).select_related("launch")
    return runs.get(pk=run_id)


def _record(run: RolloutRun, actor, action: str, data: dict) -> None:
    record(actor=actor, action=action, launch_slug=run.launch.slug, obj_type="rollout_run",
           obj_key=str(run.pk), data={"run": run.pk, **data})  # fmt: skip


def _name(actor) -> str:
    if isinstance(actor, str):
        return actor
    return actor.get_full_name() or actor.get_username()
