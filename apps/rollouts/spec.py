"""The `rollout:` section of a launch spec, stored in place and exported back (validated by
apps/specs/spec.py with the rest of the spec)."""

from apps.launches.durations import format_duration
from apps.launches.models import Launch
from apps.rollouts.models import (
    DEFAULT_BASELINE_OFFSET,
    DEFAULT_COUNT,
    DEFAULT_FAILURE_LIMIT,
    DEFAULT_INCONCLUSIVE_LIMIT,
    DEFAULT_INTERVAL,
    CriterionKind,
    Rollout,
    RolloutCriterion,
    RolloutStage,
)


def sync_rollout(*, launch: Launch, data: dict | None) -> tuple[list[str], list[str]]:
    """Store a validated `rollout:` on the launch, stages and criteria matched by name so that
    runs under way keep theirs; return the stage names added and removed. Without one, the plan
    is removed (runs and their readings are kept, with copies of what they analysed)."""
    existing = set(
        RolloutStage.objects.filter(rollout__launch=launch).values_list("name", flat=True)
    )
    if data is None:
        Rollout.objects.filter(launch=launch).delete()
        return [], sorted(existing)
    rollout, _ = Rollout.objects.update_or_create(launch=launch, defaults=_settings(data))
    stages = []
    for order, item in enumerate(data["stages"], start=1):
        stage, _ = RolloutStage.objects.update_or_create(
            rollout=rollout, name=item["name"],
            defaults={"order": order, "traffic": item["traffic"], "duration": item.get("duration")},
        )  # fmt: skip
        _sync_criteria(rollout, CriterionKind.STAGE, item["criteria"], stage=stage)
        stages.append(stage)
    rollout.stages.exclude(pk__in=[s.pk for s in stages]).delete()
    _sync_criteria(rollout, CriterionKind.TRIGGER, data.get("rollback_triggers", []))
    checks = (data.get("post_launch") or {}).get("checks", [])
    _sync_criteria(rollout, CriterionKind.POST_LAUNCH, checks)
    names = [s.name for s in stages]
    return [n for n in names if n not in existing], sorted(existing - set(names))


def _settings(data: dict) -> dict:
    analysis, post = data.get("analysis", {}), data.get("post_launch")
    return {
        "interval": analysis.get("interval", DEFAULT_INTERVAL),
        "count": analysis.get("count", DEFAULT_COUNT),
        "failure_limit": analysis.get("failure_limit", DEFAULT_FAILURE_LIMIT),
        "inconclusive_limit": analysis.get("inconclusive_limit", DEFAULT_INCONCLUSIVE_LIMIT),
        "post_launch_window": post["window"] if post else None,
        "baseline_offset": post.get("baseline_offset", DEFAULT_BASELINE_OFFSET) if post else None,
    }


def _sync_criteria(rollout: Rollout, kind: str, items: list[dict], *, stage=None) -> None:
    kept = []
    for order, item in enumerate(items):
        criterion, _ = RolloutCriterion.objects.update_or_create(
            rollout=rollout, kind=kind, stage=stage, name=item["name"],
            defaults={"order": order, "query": item["query"], "comparator": item["comparator"],
                      "threshold": item["threshold"], "unit": item["unit"]},
        )  # fmt: skip
        kept.append(criterion.pk)
    rollout.criteria.filter(kind=kind, stage=stage).exclude(pk__in=kept).delete()


def export_rollout(launch: Launch) -> dict | None:
    """The launch's rollout as its spec writes it, or None when it has none."""
    rollout = Rollout.objects.filter(launch=launch).first()
    if rollout is None:
        return None
    criteria = list(rollout.criteria.order_by("order", "pk"))
    out = {
        "stages": [_export_stage(stage, criteria) for stage in rollout.stages.all()],
        "rollback_triggers": _export_criteria(criteria, CriterionKind.TRIGGER),
        "analysis": {
            "interval": format_duration(rollout.interval),
            "count": rollout.count,
            "failure_limit": rollout.failure_limit,
            "inconclusive_limit": rollout.inconclusive_limit,
        },
    }
    if rollout.post_launch_window is not None:
        out["post_launch"] = {
            "window": format_duration(rollout.post_launch_window),
            "baseline_offset": format_duration(rollout.baseline_offset),
            "checks": _export_criteria(criteria, CriterionKind.POST_LAUNCH),
        }
    if not out["rollback_triggers"]:
        del out["rollback_triggers"]
    return out


def _export_stage(stage: RolloutStage, criteria: list[RolloutCriterion]) -> dict:
    out = {"name": stage.name, "traffic": stage.traffic}
    if stage.duration is not None:
        out["duration"] = format_duration(stage.duration)
    out["criteria"] = _export_criteria(criteria, CriterionKind.STAGE, stage=stage)
    return out


def _export_criteria(criteria: list, kind: str, *, stage=None) -> list[dict]:
    return [
        {"name": c.name, "query": c.query, "comparator": c.comparator,
         "threshold": c.threshold, "unit": c.unit}
        for c in criteria
        if c.kind == kind and c.stage_id == (stage.pk if stage else None)
    ]  # fmt: skip
