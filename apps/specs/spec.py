"""Launch specs: validate a YAML document into plain, typed data before anything is written.

`parse_spec(raw)` returns the normalised spec or raises SpecError listing every problem, each
prefixed with its place in the document (`gates[3].comparator: ...`).
"""

import re
from typing import Any

import yaml
from django.utils.text import slugify

from apps.gates.models import Comparator, Dimension, Source
from apps.launches.converters import (
    a_date,
    aware_datetime,
    boolean,
    control_list,
    days,
    duration,
    kind_of,
    launch_slug,
    number,
    offset,
    one_of,
    optional_text,
    slug,
    slug_list,
    text,
    whole,
)
from apps.launches.models import ActivityStatus, LaunchStatus
from apps.specs.spec_yaml import load_yaml

MAX_SPEC_BYTES = 1024 * 1024
SECTIONS = ("launch", "sources", "phases", "gates", "roles", "sequence", "on_call", "rollout")


class SpecError(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("\n".join(errors))


# --- the schema: field -> (converter, required) ------------------------------------------------

LAUNCH_FIELDS = {
    "slug": (launch_slug, True),
    "name": (text, True),
    "version": (text, True),
    "target_t0": (aware_datetime, True),
    "start_date": (a_date, True),
    "status": (one_of(LaunchStatus.values), False),
    "description": (optional_text, False),
    "decision": (None, False),  # {role: <role key>}: checked against the roles
    "waiver_max_days": (days, False),
    "waivers_outlast_launch": (boolean, False),
    "signers_need_mfa": (boolean, False),
}
DECISION_FIELDS = {"role": (slug, True)}


def env_name(value: Any) -> str:
    value = text(value)
    if not re.match(r"^[A-Z_][A-Z0-9_]{0,99}$", value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


SOURCE_FIELDS = {
    "key": (slug, True),
    "url": (text, True),
    "bearer_token_env": (env_name, False),
    "basic_auth_user": (text, False),
    "basic_auth_password_env": (env_name, False),
    "verify_tls": (boolean, False),
}
# An activity's time is `week: N` (one week) or `start_week`/`end_week` (inclusive, like a
# phase's); `after` lists the keys of the activities it waits for (apps/launches/schedule.py).
ACTIVITY_FIELDS = {
    "key": (slug, False),
    "name": (text, True),
    "owner": (optional_text, False),
    "week": (whole, False),
    "start_week": (whole, False),
    "end_week": (whole, False),
    "after": (slug_list, False),
    "go_no_go": (boolean, False),
    "status": (one_of(ActivityStatus.values), False),
}
PHASE_FIELDS = {
    "code": (text, True),
    "name": (text, True),
    "start_week": (whole, True),
    "end_week": (whole, True),
    "activities": (None, False),
}
GATE_FIELDS = {
    "key": (slug, True),
    "name": (text, True),
    "category": (slug, True),
    "dimension": (one_of(Dimension.values), True),
    "blocking": (boolean, True),
    "source": (one_of(Source.values), True),
    "query": (text, False),
    "prometheus": (slug, False),
    "format": (text, False),
    "metric": (text, False),
    "url": (text, False),
    "comparator": (one_of(Comparator.values), True),
    "threshold": (number, True),
    "unit": (text, True),
    "interval": (duration, False),
    "max_age": (duration, False),
    "for": (whole, False),
    "spec_ref": (optional_text, False),
    "description": (optional_text, False),
    "controls": (control_list, False),
    "success_criterion": (optional_text, False),
    "activity": (slug, False),  # the key of the activity this gate is evidence for
}
ROLE_FIELDS = {
    "key": (slug, True),
    "name": (text, True),
    "scope": (text, True),
    "required": (boolean, False),
    "categories": (slug_list, False),
}
STEP_FIELDS = {"offset": (offset, True), "name": (text, True)}
# Who is on duty (the war room): a shift without `from`/`until` is always on.
SHIFT_FIELDS = {
    "role": (text, True),  # Primary, Secondary, Escalation
    "name": (text, True),
    "contact": (optional_text, False),  # a phone number, an email address, a pager handle
    "from": (aware_datetime, False),
    "until": (aware_datetime, False),
}


def percent(value: Any) -> int:
    return whole(value, minimum=1, maximum=100)


_PLACEHOLDER = re.compile(r"\{\{\s*([^}]*?)\s*\}\}")
PLACEHOLDERS = ("window", "stage_start")  # filled in by the portal (apps/rollouts/rules.py)


def promql_template(value: Any) -> str:
    value = text(value)
    for name in _PLACEHOLDER.findall(value):
        if name not in PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{{{name}}}}} (use {{{{window}}}} or "
                             "{{stage_start}})")  # fmt: skip
    return value


# The rollout of launch day (3.4): stages, rollback triggers, analysis like Argo's AnalysisRun.
ROLLOUT_FIELDS = {
    "stages": (None, True),
    "rollback_triggers": (None, False),
    "analysis": (None, False),
    "post_launch": (None, False),
}
STAGE_FIELDS = {
    "name": (slug, True),
    "traffic": (percent, True),
    "duration": (duration, False),
    "criteria": (None, True),
}
CRITERION_FIELDS = {
    "name": (slug, True),
    "query": (promql_template, True),
    "comparator": (one_of(Comparator.values), True),
    "threshold": (number, True),
    "unit": (text, True),
}
ANALYSIS_FIELDS = {
    "interval": (duration, False),
    "count": (whole, False),
    "failure_limit": (whole, False),
    "inconclusive_limit": (whole, False),
}
POST_LAUNCH_FIELDS = {
    "window": (duration, True),
    "baseline_offset": (duration, False),
    "checks": (None, True),
}


# --- validation ---------------------------------------------------------------------------------


class _Checker:
    """Collects every error with its place; converts what it can so later checks can run."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def mapping(self, value: Any, fields: dict, path: str) -> dict | None:
        if not isinstance(value, dict):
            self.errors.append(f"{path}: expected a mapping, got {kind_of(value)}")
            return None
        out = {}
        for name in value:
            if name not in fields:
                self.errors.append(f"{path}.{name}: unknown field")
        for name, (convert, required) in fields.items():
            if name not in value:
                if required:
                    self.errors.append(f"{path}.{name}: required field is missing")
                continue
            if convert is None:
                out[name] = value[name]
                continue
            try:
                out[name] = convert(value[name])
            except ValueError as exc:
                self.errors.append(f"{path}.{name}: {exc}")
        return out

    def items(self, value: Any, fields: dict, path: str, key: str) -> list[dict]:
        """A list of mappings whose `key` field is unique."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.errors.append(f"{path}: expected a list, got {kind_of(value)}")
            return []
        out, seen = [], {}
        for index, item in enumerate(value):
            where = f"{path}[{index}]"
            checked = self.mapping(item, fields, where)
            if checked is None:
                continue
            ident = checked.get(key)
            if ident is not None and ident in seen:
                self.errors.append(
                    f"{where}.{key}: duplicate {key} {ident!r} (first at [{seen[ident]}])"
                )
            elif ident is not None:
                seen[ident] = index
            checked["_path"] = where
            out.append(checked)
        return out


def parse_spec(raw: bytes | str) -> dict:
    """Validate a launch spec; return it normalised, or raise SpecError naming every problem."""
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError([f"spec: {len(raw):,} bytes is over the limit of {MAX_SPEC_BYTES:,}"])
    try:
        document = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError([f"spec: not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except yaml.YAMLError as exc:
        raise SpecError([f"spec: not valid YAML: {_yaml_message(exc)}"]) from None
    if not isinstance(document, dict):
        raise SpecError([f"spec: expected a mapping at the top, got {kind_of(document)}"])
    return _validate(document)


def _yaml_message(exc: yaml.YAMLError) -> str:
    text = " ".join(str(exc).split())
    return text[:300]


def _validate(document: dict) -> dict:
    check = _Checker()
    for name in document:
        if name not in SECTIONS:
            check.errors.append(f"{name}: unknown section (expected {', '.join(SECTIONS)})")
    launch = check.mapping(document.get("launch"), LAUNCH_FIELDS, "launch") or {}
    sources = check.items(document.get("sources"), SOURCE_FIELDS, "sources", "key")
    phases = check.items(document.get("phases"), PHASE_FIELDS, "phases", "code")
    gates = check.items(document.get("gates"), GATE_FIELDS, "gates", "key")
    roles = check.items(document.get("roles"), ROLE_FIELDS, "roles", "key")
    sequence = check.items(document.get("sequence"), STEP_FIELDS, "sequence", "name")
    for phase in phases:
        _check_phase(check, phase)
    _check_schedule(check, [a for p in phases for a in p["activities"]], gates)
    for source in sources:
        if "url" in source:
            _check_url(check, source["url"], f"{source['_path']}.url")
    source_keys = {source["key"] for source in sources if "key" in source}
    for gate in gates:
        _check_gate(check, gate, source_keys)
    if "decision" in launch:
        _check_decision(check, launch, roles)
    on_call = _check_on_call(check, document.get("on_call"))
    rollout = _check_rollout(check, document["rollout"]) if "rollout" in document else None
    if check.errors:
        raise SpecError(check.errors)
    return {
        "launch": launch,
        "sources": sources,
        "phases": phases,
        "gates": gates,
        "roles": roles,
        "sequence": sequence,
        "on_call": on_call,
        "rollout": rollout,
    }


def _check_phase(check: _Checker, phase: dict) -> None:
    path = phase["_path"]
    start, end = phase.get("start_week"), phase.get("end_week")
    if start is not None and end is not None and end < start:
        check.errors.append(f"{path}.end_week: {end} is before start_week {start}")
    phase["activities"] = check.items(
        phase.get("activities"), ACTIVITY_FIELDS, f"{path}.activities", "name"
    )
    for activity in phase["activities"]:
        _check_activity_weeks(check, activity)
    if start is None or end is None or end < start:
        return
    for activity in phase["activities"]:
        for name in ("week",) if "week" in activity else ("start_week", "end_week"):
            week = activity.get(name)
            if name in activity and not start <= week <= end:
                check.errors.append(f"{activity['_path']}.{name}: {week} is outside the "
                                    f"phase's weeks {start}-{end}")  # fmt: skip


def _check_activity_weeks(check: _Checker, activity: dict) -> None:
    """`week: N`, or `start_week` and `end_week`; normalised to start_week/end_week."""
    path = activity["_path"]
    given = {name for name in ("week", "start_week", "end_week") if name in activity}
    if "week" in given and given != {"week"}:
        check.errors.append(f"{path}.week: give week, or start_week and end_week, not both")
    elif given == {"start_week"} or given == {"end_week"}:
        missing = ({"start_week", "end_week"} - given).pop()
        check.errors.append(f"{path}.{missing}: required with {given.pop()}")
    elif not given and "name" in activity:
        check.errors.append(f"{path}.week: required field is missing (or start_week and end_week)")
    if "week" in activity:
        activity["start_week"] = activity["end_week"] = activity["week"]
    start, end = activity.get("start_week"), activity.get("end_week")
    if start is not None and end is not None and end < start:
        check.errors.append(f"{path}.end_week: {end} is before start_week {start}")


def _check_schedule(check: _Checker, activities: list[dict], gates: list[dict]) -> None:
    """Keys unique in the launch (derived from the name when absent), `after` naming known
    activities without a cycle, one Go/No-Go at most, and gates' `activity` known."""
    first: dict[str, str] = {}
    for activity in activities:
        key = activity.get("key")
        if key in first:
            check.errors.append(
                f"{activity['_path']}.key: duplicate key {key!r} (first at {first[key]})"
            )
        elif key is not None:
            first[key] = activity["_path"]
    for activity in activities:
        if "key" not in activity and "name" in activity:
            activity["key"] = derive_key(activity["name"], first)
            first[activity["key"]] = activity["_path"]
    graph = {a["key"]: a.get("after", []) for a in activities if "key" in a}
    where = {a["key"]: a["_path"] for a in activities if "key" in a}
    for activity in activities:
        for index, key in enumerate(activity.get("after", [])):
            if key not in graph:
                check.errors.append(f"{activity['_path']}.after[{index}]: unknown activity {key!r}")
    for key, index, cycle in find_cycles(graph):
        check.errors.append(
            f"{where[key]}.after[{index}]: cycle {' -> '.join(cycle)} (each waits for the next)"
        )
    deciding = [a["_path"] for a in activities if a.get("go_no_go")]
    for path in deciding[1:]:
        check.errors.append(f"{path}.go_no_go: only one activity may be the Go/No-Go "
                            f"(already {deciding[0]})")  # fmt: skip
    for gate in gates:
        if "activity" in gate and gate["activity"] not in graph:
            check.errors.append(f"{gate['_path']}.activity: unknown activity {gate['activity']!r}")


def derive_key(name: str, taken) -> str:
    """The key of an activity that has none: its name as a slug, numbered if already taken."""
    base = slugify(name)[:72].strip("-") or "activity"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    return key


def find_cycles(graph: dict[str, list[str]]) -> list[tuple[str, int, list[str]]]:
    """Each dependency that closes a cycle: (activity key, index in its `after`, the cycle).

    An iterative depth-first search (a long chain would overflow Python's recursion limit);
    keys missing from the graph are skipped (reported as unknown elsewhere).
    """
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found = []
    for root in graph:
        if root in state:
            continue
        stack, path, state[root] = [[root, 0]], [root], 1
        while stack:
            node, index = stack[-1]
            if index == len(graph[node]):
                stack.pop(), path.pop()
                state[node] = 2
                continue
            stack[-1][1] += 1
            nxt = graph[node][index]
            if state.get(nxt) == 1:
                found.append((node, index, [*path[path.index(nxt) :], nxt]))
            elif nxt in graph and nxt not in state:
                state[nxt] = 1
                stack.append([nxt, 0])
                path.append(nxt)
    return found


def _check_decision(check: _Checker, launch: dict, roles: list[dict]) -> None:
    """`decision: {role: ...}` names the role whose holder records the Go/No-Go."""
    decision = check.mapping(launch["decision"], DECISION_FIELDS, "launch.decision")
    launch["decision"] = decision or {}
    role = (decision or {}).get("role")
    if role is not None and role not in {r.get("key") for r in roles}:
        check.errors.append(f"launch.decision.role: {role!r} is not a role of this launch")


def _check_on_call(check: _Checker, value: Any) -> list[dict]:
    """`on_call:` shifts; a shift's `until` comes after its `from`. A person may hold several."""
    shifts = check.items(value, SHIFT_FIELDS, "on_call", "")
    for shift in shifts:
        start, end = shift.get("from"), shift.get("until")
        if start is not None and end is not None and end <= start:
            check.errors.append(f"{shift['_path']}.until: {end.isoformat()} is not after from")
    return shifts


def _check_rollout(check: _Checker, value: Any) -> dict | None:
    """`rollout:` with its stages (traffic rising), triggers, analysis and post-launch checks."""
    rollout = check.mapping(value, ROLLOUT_FIELDS, "rollout")
    if rollout is None:
        return None
    stages = check.items(rollout.get("stages"), STAGE_FIELDS, "rollout.stages", "name")
    if rollout.get("stages") == []:
        check.errors.append("rollout.stages: a rollout needs at least one stage")
    previous = 0
    for stage in stages:
        path, traffic = stage["_path"], stage.get("traffic")
        if traffic is not None and traffic <= previous:
            check.errors.append(f"{path}.traffic: {traffic} is not above the previous {previous}")
        previous = traffic or previous
        if stage.get("criteria") == []:
            check.errors.append(f"{path}.criteria: a stage needs at least one criterion")
        stage["criteria"] = _criteria(check, stage.get("criteria"), f"{path}.criteria")
    triggers = rollout.get("rollback_triggers")
    rollout["rollback_triggers"] = _criteria(check, triggers, "rollout.rollback_triggers")
    rollout["stages"] = stages
    rollout["analysis"] = _analysis(check, rollout.get("analysis", {}))
    if "post_launch" in rollout:
        post = check.mapping(rollout["post_launch"], POST_LAUNCH_FIELDS, "rollout.post_launch")
        if post is not None:
            post["checks"] = _criteria(check, post.get("checks"), "rollout.post_launch.checks")
        rollout["post_launch"] = post
    return rollout


def _criteria(check: _Checker, value: Any, path: str) -> list[dict]:
    return check.items(value, CRITERION_FIELDS, path, "name")


def _analysis(check: _Checker, value: Any) -> dict:
    analysis = check.mapping(value, ANALYSIS_FIELDS, "rollout.analysis") or {}
    interval = analysis.get("interval")
    if interval is not None and interval.total_seconds() < 10:
        check.errors.append("rollout.analysis.interval: must be at least 10s")
    return analysis


# Which optional rule fields each source takes; the others must be absent.
_SOURCE_FIELDS = {
    Source.PROMETHEUS: {"required": ("query",), "allowed": ("query", "prometheus")},
    Source.REPORT: {"required": ("format", "metric"), "allowed": ("format", "metric", "url")},
    Source.MANUAL: {"required": (), "allowed": ()},
}


def _check_gate(check: _Checker, gate: dict, source_keys: set[str]) -> None:
    path, source = gate["_path"], gate.get("source")
    if source is None:
        return
    rules = _SOURCE_FIELDS[Source(source)]
    for name in rules["required"]:
        if name not in gate:
            check.errors.append(f"{path}.{name}: required for a {source} gate")
    for name in ("query", "prometheus", "format", "metric", "url"):
        if name in gate and name not in rules["allowed"]:
            check.errors.append(f"{path}.{name}: not allowed on a {source} gate")
    if "prometheus" in gate and gate["prometheus"] not in source_keys:
        check.errors.append(f"{path}.prometheus: {gate['prometheus']!r} is not a key in sources")
    if source == Source.REPORT and "format" in gate:
        _check_report_metric(check, gate, path)
    if "url" in gate:
        _check_url(check, gate["url"], f"{path}.url")
    interval, max_age = gate.get("interval"), gate.get("max_age")
    if interval is not None and not interval.total_seconds() >= 10:
        check.errors.append(f"{path}.interval: must be at least 10s")
    if interval is not None and max_age is not None and max_age < interval:
        check.errors.append(f"{path}.max_age: shorter than the interval, the gate would go stale")


def _check_report_metric(check: _Checker, gate: dict, path: str) -> None:
    from apps.gates.parsers import METRICS

    fmt = gate["format"]
    if fmt not in METRICS:
        check.errors.append(f"{path}.format: {fmt!r} is not one of {', '.join(sorted(METRICS))}")
    elif "metric" in gate and gate["metric"] not in METRICS[fmt]:
        check.errors.append(
            f"{path}.metric: {gate['metric']!r} is not a {fmt} metric "
            f"(one of {', '.join(METRICS[fmt])})"
        )


def _check_url(check: _Checker, url: str, path: str) -> None:
    """Pull and Prometheus URLs must be http(s) on the allowlist and not reach inside (SSRF)."""
    from django.conf import settings

    from apps.gates.sources import SourceError
    from portal.outbound import check_url

    try:
        check_url(url, allowed_hosts=settings.SOURCE_ALLOWED_HOSTS)
    except SourceError as exc:  # unsafe, off the allowlist, or not resolvable
        check.errors.append(f"{path}: {exc.reason}")
