"""What applying a launch spec would change: a pure comparison of two parsed specs.

`diff_specs(new, current)` takes parse_spec()'s output for the spec being applied and for the
launch's current export (None for a new launch) and lists each launch setting, source, phase,
activity, gate, role, sequence step and rollout part added, changed (field by field) or retired.
Omitted fields count as the defaults import_launch_spec() would store, so that a spec written by
hand and the export of the same plan compare equal. No ORM, no I/O.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from apps.gates.models import DEFAULT_INTERVAL, Source, format_decimal
from apps.launches.durations import format_duration, format_offset
from apps.launches.models import WAIVER_MAX_DAYS

ADDED, CHANGED, RETIRED = "added", "changed", "retired"
KINDS = (
    "launch",
    "sources",
    "phases",
    "activities",
    "gates",
    "roles",
    "sequence",
    "rollout",
    "other",
)

LAUNCH_DEFAULTS = {
    "status": "planning", "description": "", "decision": None,
    "waiver_max_days": WAIVER_MAX_DAYS, "waivers_outlast_launch": False, "signers_need_mfa": False,
}  # fmt: skip
SOURCE_DEFAULTS = {"bearer_token_env": "", "basic_auth_user": "", "basic_auth_password_env": "",
                   "verify_tls": True}  # fmt: skip
GATE_DEFAULTS = {
    "query": "", "prometheus": "", "format": "", "metric": "", "url": "", "for": 1,
    "spec_ref": "", "description": "", "controls": [], "success_criterion": "", "activity": "",
}  # fmt: skip
ROLE_DEFAULTS = {"required": True, "categories": []}
ACTIVITY_DEFAULTS = {"owner": "", "after": [], "go_no_go": False}
KEPT = object()  # a field the spec leaves out to keep the launch's value
IGNORED = {"_path", "week", "activities"}  # `week` is normalised into start_week/end_week


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class Change:
    kind: str  # one of KINDS
    key: str
    change: str  # ADDED, CHANGED or RETIRED
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class SpecChanges:
    changes: tuple[Change, ...]

    def __bool__(self) -> bool:
        return bool(self.changes)

    def by_kind(self) -> list[tuple[str, list[Change]]]:
        """The changes grouped in KINDS order, kinds without any left out."""
        groups = [(kind, [c for c in self.changes if c.kind == kind]) for kind in KINDS]
        return [(kind, changes) for kind, changes in groups if changes]

    def find(self, kind: str, key: str) -> Change | None:
        return next((c for c in self.changes if (c.kind, c.key) == (kind, key)), None)


def diff_specs(new: dict, current: dict | None) -> SpecChanges:
    """Every difference between the parsed spec `new` and the parsed `current` (None: new)."""
    current = current or {}
    changes = [*_compare("launch", _launch(new), _launch(current))]
    for kind, items in _items(new).items():
        changes += _compare(kind, items, _items(current)[kind])
    return SpecChanges(tuple(changes))


def _compare(kind: str, new: dict[str, dict], current: dict[str, dict]) -> list[Change]:
    out = []
    for key, fields in new.items():
        if key not in current:
            out.append(Change(kind, key, ADDED))
        elif changed := _fields(fields, current[key]):
            out.append(Change(kind, key, CHANGED, changed))
    out += [Change(kind, key, RETIRED) for key in current if key not in new]
    return out


def _fields(new: dict, old: dict) -> tuple[FieldChange, ...]:
    names = [*new, *(name for name in old if name not in new)]
    return tuple(
        FieldChange(name, show(old.get(name)), show(new.get(name)))
        for name in names
        if new.get(name) != old.get(name) and new.get(name) is not KEPT
    )


def _launch(spec: dict) -> dict[str, dict]:
    if not spec:
        return {}
    data = _effective(spec["launch"], LAUNCH_DEFAULTS)
    return {data["slug"]: data}


def _items(spec: dict) -> dict[str, dict[str, dict]]:
    phases = spec.get("phases", [])
    return {
        "sources": {s["key"]: _effective(s, SOURCE_DEFAULTS) for s in spec.get("sources", [])},
        "phases": {p["code"]: _effective(p, {}) for p in phases},
        "activities": {
            f"{p['code']}: {a['key']}": _activity(a) for p in phases for a in p["activities"]
        },
        "gates": {g["key"]: _gate(g) for g in spec.get("gates", [])},
        "roles": {r["key"]: _effective(r, ROLE_DEFAULTS) for r in spec.get("roles", [])},
        "sequence": {
            f"{format_offset(s['offset'])} {s['name']}": {} for s in spec.get("sequence", [])
        },
        "rollout": _rollout(spec.get("rollout") or {}),
        # Sections this module does not know (yet) compare whole.
        "other": {
            name: {"value": _plain(value)}
            for name, value in spec.items()
            if name not in KINDS and value
        },
    }


def _effective(item: dict, defaults: dict) -> dict:
    out = {name: _plain(value) for name, value in item.items() if name not in IGNORED}
    return {**defaults, **out}


def _plain(value):
    """`value` without the `_path` places parse_spec() adds (they move when an item moves)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items() if k != "_path"}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _activity(item: dict) -> dict:
    # An omitted status keeps the activity's current one (import_launch_spec): no change.
    data = _effective(item, ACTIVITY_DEFAULTS)
    return data if "status" in item else {**data, "status": KEPT}


def _gate(item: dict) -> dict:
    data = _effective(item, GATE_DEFAULTS)
    data["interval"] = item.get("interval") or DEFAULT_INTERVAL[Source(item["source"])]
    data["max_age"] = item.get("max_age") or data["interval"] * 3
    return data


def _rollout(rollout: dict) -> dict[str, dict]:
    """Each stage by name, and each other part of the rollout as one item."""
    out = {f"stage {s['name']}": _plain(s) for s in rollout.get("stages") or []}
    for part, value in rollout.items():
        if part != "stages" and value:
            out[part] = {"value": _plain(value)}
    return out


def show(value) -> str:
    """A value as the spec writes it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format_decimal(value)
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {show(v)}" for k, v in value.items()) + "}"
    return str(value)
