"""Importing a launch spec in place (its launch, phases, gates, roles, sequence and rollout),
exporting a launch back to YAML, and the timeline's edit of an activity's status and owner (both
fields of the spec)."""

import hashlib
from dataclasses import dataclass, field
from datetime import UTC

from django.db import transaction
from django.utils import timezone

from apps.audit.services import record
from apps.gates import rows
from apps.gates.models import DEFAULT_INTERVAL, Gate, PrometheusSource, Source
from apps.launches.durations import format_duration, format_offset
from apps.launches.models import (
    WAIVER_MAX_DAYS,
    Activity,
    ActivityStatus,
    Launch,
    Phase,
    SequenceStep,
)
from apps.rollouts.spec import export_rollout, sync_rollout
from apps.signoffs.models import Role
from apps.specs.spec import parse_spec
from apps.specs.spec_yaml import dump_yaml
from portal import storage


@dataclass
class ImportResult:
    launch: Launch
    created: bool
    added: dict[str, list[str]] = field(default_factory=dict)
    removed: dict[str, list[str]] = field(default_factory=dict)

    def summary(self) -> list[str]:
        verb = "created" if self.created else "updated"
        lines = [f"{verb} launch {self.launch.slug}"]
        for kind, keys in self.added.items():
            if keys and not self.created:
                lines.append(f"added {kind}: {', '.join(keys)}")
        for kind, keys in self.removed.items():
            if keys:
                kept = " (retired, history kept)" if kind in ("gates", "roles") else ""
                lines.append(f"removed {kind}{kept}: {', '.join(keys)}")
        return lines


def import_launch_spec(*, raw: bytes | str, actor) -> ImportResult:
    """Validate a YAML spec, then create or update its launch in one transaction.

    The audit event keeps the spec's text and SHA-256: the append-only, hashed record of the
    plan as it was applied (no model field holds it).
    """
    spec = parse_spec(raw)
    raw = raw.encode() if isinstance(raw, str) else raw
    store_spec_text(raw)  # once: a caller that stored it before its transaction is not redone
    with transaction.atomic():
        result = _apply(spec)
        record(
            actor=actor,
            action="launch.imported",
            launch_slug=result.launch.slug,
            obj_type="launch",
            obj_key=result.launch.slug,
            data={
                "created": result.created,
                "added": result.added,
                "removed": result.removed,
                "sha256": hashlib.sha256(raw).hexdigest(),
                "spec": raw.decode(),
            },  # fmt: skip
        )
    return result


def spec_name(sha256: str) -> str:
    """Where the spec text whose audit event carries `sha256` is kept in the `specs` storage."""
    return f"specs/{sha256[:2]}/{sha256}.yaml"


def store_spec_text(raw: bytes) -> str:
    """Keep the text once, content-addressed, beside the audit event that holds it and its hash.

    The event stays the record (its hash chain covers the text); the file is the copy kept with
    the other files, under Object Lock in production. Stored before the import, like evidence: a
    refused import leaves a harmless orphan, never an event naming a missing file.
    """
    name = spec_name(hashlib.sha256(raw).hexdigest())
    return storage.save_once(storage.SPECS, name, raw)


def _apply(spec: dict) -> ImportResult:
    data = spec["launch"]
    fields = {**_launch_fields(data), "on_call": [_shift_json(s) for s in spec["on_call"]]}
    launch, created = Launch.objects.get_or_create(slug=data["slug"], defaults=fields)
    if not created:
        launch.refuse_if_closed()  # a closed launch is read-only
        for name, value in fields.items():
            setattr(launch, name, value)
        launch.save()
    result = ImportResult(launch=launch, created=created)
    sources = _sync_sources(launch, spec["sources"], result)
    _sync_phases(launch, spec["phases"], result)
    _sync_gates(launch, spec["gates"], sources, result)
    rows.bump(
        launch.pk, rows.EVERYTHING
    )  # cached parts show the gates' rules, the phases and the sequence
    _link_gates_to_activities(launch, spec["gates"])
    _sync_roles(launch, spec["roles"], result)
    _sync_sequence(launch, spec["sequence"], result)
    result.added["stages"], result.removed["stages"] = sync_rollout(
        launch=launch, data=spec["rollout"]
    )
    PrometheusSource.objects.filter(launch=launch).exclude(key__in=sources).delete()
    return result


def _launch_fields(data: dict) -> dict:
    return {
        "name": data["name"],
        "version": data["version"],
        "target_t0": data["target_t0"],
        "start_date": data["start_date"],
        "status": data.get("status", "planning"),
        "description": data.get("description", ""),
        "decision_role": data.get("decision", {}).get("role", ""),
        "waiver_max_days": data.get("waiver_max_days", WAIVER_MAX_DAYS),
        "waivers_outlast_launch": data.get("waivers_outlast_launch", False),
        "signers_need_mfa": data.get("signers_need_mfa", False),
    }


def _shift_json(shift: dict) -> dict:
    """An on-call shift as stored on the launch (and exported): times in UTC, empties left out."""
    out = {"role": shift["role"], "name": shift["name"], "contact": shift.get("contact", "")}
    for name in ("from", "until"):
        if name in shift:
            out[name] = _utc_text(shift[name])
    return _without_empty(out)


def _utc_text(moment) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _sync_sources(launch: Launch, items: list[dict], result: ImportResult) -> dict:
    existing = {s.key: s for s in launch.sources.all()}
    sources = {}
    for item in items:
        source, _ = PrometheusSource.objects.update_or_create(
            launch=launch,
            key=item["key"],
            defaults={
                "url": item["url"],
                "bearer_token_env": item.get("bearer_token_env", ""),
                "basic_auth_user": item.get("basic_auth_user", ""),
                "basic_auth_password_env": item.get("basic_auth_password_env", ""),
                "verify_tls": item.get("verify_tls", True),
            },
        )
        sources[item["key"]] = source
    result.added["sources"] = [k for k in sources if k not in existing]
    result.removed["sources"] = sorted(set(existing) - set(sources))
    return sources


def _sync_phases(launch: Launch, items: list[dict], result: ImportResult) -> None:
    existing = {p.code: p for p in launch.phases.all()}
    for order, item in enumerate(items):
        phase, _ = Phase.objects.update_or_create(
            launch=launch,
            code=item["code"],
            defaults={
                "name": item["name"],
                "start_week": item["start_week"],
                "end_week": item["end_week"],
                "order": order,
            },
        )
        _sync_activities(phase, item["activities"], result)
    codes = [item["code"] for item in items]
    result.added["phases"] = [c for c in codes if c not in existing]
    removed = sorted(set(existing) - set(codes))
    launch.phases.filter(code__in=removed).delete()
    result.removed["phases"] = removed


def _sync_activities(phase: Phase, items: list[dict], result: ImportResult) -> None:
    existing = {a.name: a for a in phase.activities.all()}
    by_key = {a.key: a for a in existing.values() if a.key}  # a key keeps it through a rename
    kept = set()
    for order, item in enumerate(items):
        activity = by_key.get(item["key"]) or existing.get(item["name"]) or Activity(phase=phase)
        activity.name, activity.key = item["name"], item["key"]
        activity.owner = item.get("owner", "")
        activity.planned_week = item["end_week"]
        activity.start_week = item["start_week"] if item["start_week"] < item["end_week"] else None
        activity.after, activity.go_no_go = item.get("after", []), item.get("go_no_go", False)
        activity.order = order
        activity.set_status(item.get("status", activity.status or ActivityStatus.TODO))
        added = activity.pk is None
        activity.save()
        kept.add(activity.pk)
        if added:
            result.added.setdefault("activities", []).append(activity.name)
    removed = sorted(name for name, a in existing.items() if a.pk not in kept)
    phase.activities.exclude(pk__in=kept).delete()
    result.added.setdefault("activities", [])
    result.removed.setdefault("activities", []).extend(f"{phase.code}: {n}" for n in removed)


def _sync_gates(launch: Launch, items: list[dict], sources: dict, result: ImportResult) -> None:
    existing = {g.key: g for g in launch.gates.all()}
    for order, item in enumerate(items):
        gate = existing.get(item["key"]) or Gate(launch=launch, key=item["key"])
        for name, value in _gate_fields(item, sources).items():
            setattr(gate, name, value)
        gate.order, gate.retired_at = order, None
        gate.save()
    keys = [item["key"] for item in items]
    result.added["gates"] = [k for k in keys if k not in existing]
    removed = sorted(k for k, g in existing.items() if k not in keys and g.retired_at is None)
    launch.gates.filter(key__in=removed).update(retired_at=timezone.now(), prometheus=None)
    result.removed["gates"] = removed


def _link_gates_to_activities(launch: Launch, items: list[dict]) -> None:
    """A gate's `activity:`: the gate is evidence for that activity (one link per gate)."""
    links = Activity.gates.through.objects.filter(activity__phase__launch=launch)
    links.delete()
    activities = dict(Activity.objects.filter(phase__launch=launch).values_list("key", "pk"))
    gates = dict(launch.gates.values_list("key", "pk"))
    Activity.gates.through.objects.bulk_create(
        Activity.gates.through(activity_id=activities[item["activity"]], gate_id=gates[item["key"]])
        for item in items
        if "activity" in item
    )


def _gate_fields(item: dict, sources: dict) -> dict:
    interval = item.get("interval") or DEFAULT_INTERVAL[Source(item["source"])]
    return {
        "name": item["name"],
        "category": item["category"],
        "dimension": item["dimension"],
        "blocking": item["blocking"],
        "source": item["source"],
        "query": item.get("query", ""),
        "prometheus": sources.get(item.get("prometheus")),
        "format": item.get("format", ""),
        "metric": item.get("metric", ""),
        "pull_url": item.get("url", ""),
        "comparator": item["comparator"],
        "threshold": item["threshold"],
        "unit": item["unit"],
        "interval": interval,
        "max_age": item.get("max_age") or interval * 3,
        "for_count": item.get("for", 1),
        "spec_ref": item.get("spec_ref", ""),
        "description": item.get("description", ""),
        "controls": item.get("controls", []),
        "success_criterion": item.get("success_criterion", ""),
    }


def _sync_roles(launch: Launch, items: list[dict], result: ImportResult) -> None:
    existing = {r.key: r for r in launch.roles.all()}
    for order, item in enumerate(items):
        Role.objects.update_or_create(
            launch=launch,
            key=item["key"],
            defaults={
                "name": item["name"],
                "scope": item["scope"],
                "required": item.get("required", True),
                "categories": item.get("categories", []),
                "order": order,
                "retired_at": None,
            },
        )
    keys = [item["key"] for item in items]
    result.added["roles"] = [k for k in keys if k not in existing]
    removed = sorted(k for k, r in existing.items() if k not in keys and r.retired_at is None)
    launch.roles.filter(key__in=removed).update(retired_at=timezone.now())
    result.removed["roles"] = removed


def _sync_sequence(launch: Launch, items: list[dict], result: ImportResult) -> None:
    existing = {(s.offset, s.name): s for s in launch.sequence.all()}
    wanted = [(item["offset"], item["name"]) for item in items]
    for order, (offset, name) in enumerate(wanted):
        SequenceStep.objects.update_or_create(
            launch=launch, offset=offset, name=name, defaults={"order": order}
        )
    gone = [existing[k] for k in existing if k not in wanted]
    SequenceStep.objects.filter(pk__in=[s.pk for s in gone]).delete()
    result.removed["sequence"] = [str(s) for s in gone]


# --- export -----------------------------------------------------------------------------------


def export_launch_spec(launch: Launch) -> str:
    """The launch as a YAML spec; stable, and importing it reproduces the same launch."""
    document = {
        "launch": _export_launch(launch),
        "sources": [_export_source(s) for s in launch.sources.order_by("key")],
        "phases": [_export_phase(p) for p in launch.phases.prefetch_related("activities")],
        "gates": [
            _export_gate(g)
            for g in launch.gates.active()
            .select_related("prometheus")
            .prefetch_related("activities")
        ],
        "roles": [_export_role(r) for r in launch.roles.filter(retired_at__isnull=True)],
        "sequence": [
            {"offset": format_offset(s.offset), "name": s.name} for s in launch.sequence.all()
        ],
    }
    if not document["sources"]:
        del document["sources"]
    if launch.on_call:
        document["on_call"] = [_export_shift(item) for item in launch.on_call]
    if rollout := export_rollout(launch):
        document["rollout"] = rollout
    return dump_yaml(document)


def _export_launch(launch: Launch) -> dict:
    out = {
        "slug": launch.slug,
        "name": launch.name,
        "version": launch.version,
        "target_t0": _utc_text(launch.target_t0),
        "start_date": launch.start_date.isoformat(),
        "status": launch.status,
    }
    if launch.description:
        out["description"] = launch.description
    if launch.decision_role:
        out["decision"] = {"role": launch.decision_role}
    # Defaults are left out, as an importer would assume them.
    if launch.waiver_max_days != WAIVER_MAX_DAYS:
        out["waiver_max_days"] = launch.waiver_max_days
    if launch.waivers_outlast_launch:
        out["waivers_outlast_launch"] = True
    if launch.signers_need_mfa:
        out["signers_need_mfa"] = True
    return out


def _export_shift(item: dict) -> dict:
    # jsonb keeps no key order: the spec's order is restored here
    names = ("role", "name", "contact", "from", "until")
    return {name: item[name] for name in names if name in item}


def _export_source(source: PrometheusSource) -> dict:
    out = _without_empty(
        {
            "key": source.key,
            "url": source.url,
            "bearer_token_env": source.bearer_token_env,
            "basic_auth_user": source.basic_auth_user,
            "basic_auth_password_env": source.basic_auth_password_env,
        }
    )
    if not source.verify_tls:
        out["verify_tls"] = False
    return out


def _export_phase(phase: Phase) -> dict:
    return {
        "code": phase.code,
        "name": phase.name,
        "start_week": phase.start_week,
        "end_week": phase.end_week,
        "activities": [_export_activity(a) for a in phase.activities.all()],
    }


def _export_activity(activity: Activity) -> dict:
    out = {"key": activity.key, "name": activity.name, "owner": activity.owner}
    if activity.first_week == activity.planned_week:
        out["week"] = activity.planned_week
    else:
        out.update(start_week=activity.first_week, end_week=activity.planned_week)
    out.update(after=activity.after, status=activity.status, go_no_go=activity.go_no_go or None)
    return _without_empty(out)


def _export_gate(gate: Gate) -> dict:
    out = {
        "key": gate.key,
        "name": gate.name,
        "category": gate.category,
        "dimension": gate.dimension,
        "blocking": gate.blocking,
        "source": gate.source,
        "query": gate.query,
        "prometheus": gate.prometheus.key if gate.prometheus else "",
        "format": gate.format,
        "metric": gate.metric,
        "url": gate.pull_url,
        "comparator": gate.comparator,
        "threshold": gate.threshold,
        "unit": gate.unit,
        "interval": format_duration(gate.interval),
        "max_age": format_duration(gate.max_age),
        "for": gate.for_count if gate.for_count > 1 else None,
        "spec_ref": gate.spec_ref,
        "description": gate.description,
        "controls": gate.controls,
        "success_criterion": gate.success_criterion,
        "activity": next((a.key for a in gate.activities.all()), None),
    }
    return _without_empty(out)


def _export_role(role: Role) -> dict:
    return {
        "key": role.key,
        "name": role.name,
        "scope": role.scope,
        "required": role.required,
        "categories": role.categories,
    }


def _without_empty(data: dict) -> dict:
    return {k: v for k, v in data.items() if v not in ("", None, [])}


# --- the timeline -----------------------------------------------------------------------------


def update_activity(*, activity: Activity, user, status: str, owner: str) -> Activity:
    """A program manager changes an activity's status or owner; audited."""
    activity.phase.launch.refuse_if_closed()  # a closed launch is read-only
    if status not in ActivityStatus.values:
        raise ValueError(f"{status!r} is not an activity status")
    before = {"status": activity.status, "owner": activity.owner}
    with transaction.atomic():
        activity.set_status(status)
        activity.owner = owner.strip()[:200]
        activity.save(update_fields=["status", "owner", "completed_at"])
        rows.bump(activity.phase.launch_id, (rows.PLAN,))  # the overview's and timeline's plan
        record(
            actor=user, action="activity.updated", launch_slug=activity.phase.launch.slug,
            obj_type="activity", obj_key=f"{activity.phase.code}: {activity.name}",
            data={"before": before, "after": {"status": status, "owner": activity.owner}},
        )  # fmt: skip
    return activity
