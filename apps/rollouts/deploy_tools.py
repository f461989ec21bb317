"""What the portal answers deploy tools: Flagger's webhooks and Argo Rollouts' web metric.

Flagger calls a webhook and goes on only on a 2xx (it reads 200-202 as yes, anything else as
no, and logs the body). Argo Rollouts polls the analysis document and judges it with a
`successCondition` such as `result.verdict == "pass"`.
"""

from urllib.parse import urlencode

from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from apps.launches.models import Launch
from apps.rollouts.models import CriterionKind, HookCall, StageStatus
from apps.rollouts.rules import web_verdict
from apps.rollouts.services import (
    Answer,
    RolloutRefused,
    move_on,
    rollback_answer,
    start_refusal,
    start_run,
    supersede_run,
)

HOOKS = ("confirm-rollout", "confirm-traffic-increase", "confirm-promotion", "rollback")


def flagger_urls(*, launch: Launch, token: str, origin: str) -> list[tuple[str, str]]:
    """(hook, URL) of each Flagger webhook of `launch` with the token in its `?token=` form, for
    Flagger, which sends no header: each URL is as secret as the token and dies with it."""
    query = urlencode({"token": token})
    return [
        (hook, f"{origin.rstrip('/')}{reverse(f'api:rollout-{hook}', args=[launch.slug])}?{query}")
        for hook in HOOKS
    ]


def answer_hook(*, launch: Launch, hook: str, body: dict, caller: str, now=None) -> Answer:
    """Answer one of Flagger's webhooks, and keep its request with the answer (a HookCall)."""
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    if hook == "confirm-rollout":
        answer = _confirm_rollout(launch, body, caller, now)
    elif hook == "rollback":
        answer = rollback_answer(launch=launch, checksum=body.get("checksum", ""), actor=caller,
                                 now=now)  # fmt: skip
    else:
        answer = move_on(launch=launch, actor=caller, promotion=hook == "confirm-promotion",
                         checksum=body.get("checksum", ""), now=now)  # fmt: skip
    HookCall.objects.create(launch=launch, run=answer.run, hook=hook, body=body,
                            status_code=answer.status, answer=answer.detail, caller=caller,
                            at=now)  # fmt: skip
    return answer


def _confirm_rollout(launch: Launch, body: dict, caller: str, now) -> Answer:
    """200 only while a Go stands and the T-0 window is open; starts a run if none is under way."""
    running = launch.rollout_runs.filter(status="running").first()
    if refusal := start_refusal(launch, now):
        return Answer(403, refusal, running)
    checksum = body.get("checksum", "")[:100]
    if running is not None and running.checksum and checksum and running.checksum != checksum:
        return _new_revision(running, checksum, caller, now)
    if running is not None:
        return Answer(200, f"run {running.pk} is under way", running)
    try:
        run = start_run(launch=launch, actor=caller, driver="deploy_tool",
                        checksum=body.get("checksum", ""), now=now)  # fmt: skip
    except RolloutRefused as refused:
        running = launch.rollout_runs.filter(status="running").first()
        if running is None:  # pragma: no cover - refused between the check and the start
            return Answer(refused.status, refused.reason)
        return Answer(200, f"run {running.pk} is under way", running)
    return Answer(200, f"run {run.pk} started: the first traffic increase starts stage 1", run)


def _new_revision(running, checksum: str, caller: str, now) -> Answer:
    """Flagger restarted the analysis for a new canary revision: the run of the old one is
    superseded and a run of the new one starts (a portal-started run has no checksum: kept)."""
    try:
        run = supersede_run(run=running, checksum=checksum, actor=caller, now=now)
    except RolloutRefused as refused:
        current = running.launch.rollout_runs.filter(status="running").first()
        if current is not None and current.checksum == checksum:  # another call superseded it
            return Answer(200, f"run {current.pk} is under way", current)
        return Answer(refused.status, refused.reason, current)
    return Answer(200, f"run {running.pk} of revision {running.checksum} is superseded; run "
                  f"{run.pk} of revision {checksum} started", run)  # fmt: skip


# --- Argo Rollouts' web metric ------------------------------------------------------------------


def analysis_document(launch: Launch, now=None) -> dict:
    """The verdict on the launch's newest run (`pass`, `fail`, `inconclusive`), its current stage
    and each criterion's newest value and status (the stage's and the rollback triggers)."""
    now = now or timezone.now()
    run = launch.rollout_runs.first()
    stage = run.current_stage() if run else None
    newest = _newest_readings(run, stage)
    statuses = [r.status for r in newest.values()]
    analysing = stage is not None and stage.status == StageStatus.ANALYSING
    if analysing and not any(r.kind == CriterionKind.STAGE for r in newest.values()):
        statuses = []  # the stage has no analysis yet: the triggers alone say nothing of it
    verdict, reason = web_verdict(run_status=run.status if run else None,
                                  stage_status=stage.status if stage else None,
                                  newest=statuses)  # fmt: skip
    return {
        "launch": launch.slug,
        "verdict": verdict,
        "reason": reason,
        "run": _run(run),
        "stage": _stage(run, stage),
        "criteria": _criteria(launch, stage, newest),
        "evaluated_at": now.isoformat(),
    }


def _newest_readings(run, stage) -> dict:
    """By (kind, name): the triggers' newest readings and the current stage's (4 queries)."""
    if run is None:
        return {}
    out = {}
    kinds = [run.readings.filter(kind=CriterionKind.TRIGGER)]
    if stage is not None:
        kinds.append(run.readings.filter(kind=CriterionKind.STAGE, stage=stage))
    for rows in kinds:
        slot = rows.order_by("-slot").values_list("slot", flat=True).first()
        out.update({(r.kind, r.name): r for r in rows.filter(slot=slot)})
    return out


def _run(run) -> dict | None:
    if run is None:
        return None
    return {"id": run.pk, "status": run.status, "driver": run.driver, "reason": run.reason,
            "started_at": run.started_at.isoformat(),
            "finished_at": run.finished_at.isoformat() if run.finished_at else None}  # fmt: skip


def _stage(run, stage) -> dict | None:
    if stage is None:
        return None
    return {
        "name": stage.name, "order": stage.order, "traffic": stage.traffic,
        "status": stage.status, "started_at": stage.started_at.isoformat(),
        "duration_seconds": int(stage.duration.total_seconds()) if stage.duration else None,
        "passes_in_row": stage.passes_in_row, "count": run.count,
        "failures": stage.failures, "failure_limit": run.failure_limit,
        "inconclusives": stage.inconclusives, "inconclusive_limit": run.inconclusive_limit,
    }  # fmt: skip


def _criteria(launch: Launch, stage, newest: dict) -> list[dict]:
    """The current stage's criteria, then the triggers, each with its newest reading."""
    wanted = Q(kind=CriterionKind.TRIGGER)
    if stage is not None and stage.stage_id:
        wanted |= Q(kind=CriterionKind.STAGE, stage_id=stage.stage_id)
    rules = launch.rollout.criteria.filter(wanted)
    out = []
    for rule in sorted(rules, key=lambda c: (c.kind != CriterionKind.STAGE, c.order)):
        reading = newest.get((rule.kind, rule.name))
        out.append({
            "name": rule.name, "kind": rule.kind, "comparator": rule.comparator,
            "threshold": float(rule.threshold), "unit": rule.unit,
            "value": float(reading.value) if reading and reading.value is not None else None,
            "status": reading.status if reading else "pending",
            "reason": reading.reason if reading else "not read yet",
            "at": reading.at.isoformat() if reading else None,
        })  # fmt: skip
    return out
