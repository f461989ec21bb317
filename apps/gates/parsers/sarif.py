"""SARIF 2.1.0 (CodeQL, ruff, Semgrep, Dockle, ...): findings by level and by security severity.

Effective level of a result, as SARIF 2.1.0 defines it: ``result.level``; else ``none`` when
``kind`` is present and not ``fail``; else the rule's ``defaultConfiguration.level`` (the rule is
found through ``rule``/``ruleIndex``/``ruleId``, in the driver or an extension); else
``warning``. A ``none`` result (no problem, e.g. ``kind: "pass"``) counts in ``findings.total``
only.

``findings.critical/high/medium/low`` bucket results by their rule's
``properties["security-severity"]`` (>= 9 critical, >= 7 high, >= 4 medium, > 0 low), as GitHub
code scanning does. Results whose rule has no security severity are not security-rated and are
left out of those four (with a note); if no result is rated they are ``None``.

No run at all, or a run whose tool reports that it failed, gives no evidence: every metric is
``None`` with a note.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from ._common import (
    ParsedReport,
    ReportError,
    as_dict,
    as_list,
    count,
    load_json,
    optional_list,
    parse_decimal,
    short,
)

FORMAT = "sarif"
LEVELS = ("error", "warning", "note", "none")
SEVERITIES = ("critical", "high", "medium", "low")
METRICS = (
    "findings.total",
    "findings.error",
    "findings.warning",
    "findings.note",
    *(f"findings.{s}" for s in SEVERITIES),
)


def parse(data: bytes) -> ParsedReport:
    doc = as_dict(load_json(data, FORMAT), FORMAT, "a SARIF log")
    version = doc.get("version")
    if version != "2.1.0":
        raise ReportError(f"sarif: version is {short(version)}, only SARIF 2.1.0 is supported")
    if "runs" not in doc:
        raise ReportError("sarif: no 'runs' array: not a SARIF log")
    runs = [as_dict(run, FORMAT, "each run") for run in as_list(doc["runs"], FORMAT, "'runs'")]
    if not runs:
        return _no_evidence("no runs: nothing was scanned")
    for run in runs:
        failure = _failure(run)
        if failure is not None:
            return _no_evidence(f"scan failed: {failure}")
    levels: Counter[str] = Counter()
    severities: Counter[str] = Counter()
    for run in runs:
        _tally_run(run, levels, severities)
    return _report(levels, severities)


def _no_evidence(note: str) -> ParsedReport:
    return ParsedReport(FORMAT, dict.fromkeys(METRICS), (note,))


def _failure(run: dict[str, Any]) -> str | None:
    """The tool's own word that the scan failed, from ``invocations``."""
    for invocation in optional_list(run, "invocations", FORMAT, "'invocations'"):
        invocation = as_dict(invocation, FORMAT, "each invocation")
        errors = [
            _text(n.get("message"))
            for n in optional_list(
                invocation, "toolExecutionNotifications", FORMAT, "notifications"
            )
            if isinstance(n, dict) and n.get("level") == "error"
        ]
        if invocation.get("executionSuccessful") is False or errors:
            return "; ".join(errors) or "the tool reports executionSuccessful: false"
    return None


def _text(message: Any) -> str:
    if isinstance(message, dict) and isinstance(message.get("text"), str):
        return message["text"][:200]
    return "(no message)"


def _tally_run(run: dict[str, Any], levels: Counter[str], severities: Counter[str]) -> None:
    components = _components(run)
    for result in optional_list(run, "results", FORMAT, "'results'"):
        result = as_dict(result, FORMAT, "each result")
        rule = _rule(result, components)
        level = _level(result, rule)
        levels[level] += 1
        if level != "none":  # "none" is not a problem (e.g. kind "pass"): total only
            severities[_severity(rule)] += 1


def _components(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The driver first, then the extensions (CodeQL keeps query-pack rules there)."""
    tool = as_dict(run.get("tool"), FORMAT, "run.tool")
    driver = as_dict(tool.get("driver"), FORMAT, "run.tool.driver")
    extensions = optional_list(tool, "extensions", FORMAT, "run.tool.extensions")
    return [driver, *(as_dict(e, FORMAT, "each tool extension") for e in extensions)]


def _rule(result: dict[str, Any], components: list[dict[str, Any]]) -> dict[str, Any] | None:
    ref = result.get("rule") if isinstance(result.get("rule"), dict) else {}
    index = ref.get("index", result.get("ruleIndex"))
    rule_id = ref.get("id", result.get("ruleId"))
    component = ref.get("toolComponent")
    searched = components
    # toolComponent.index points into run.tool.extensions, which follow the driver here.
    if isinstance(component, dict) and _valid_index(component.get("index"), len(components) - 1):
        searched = [components[component["index"] + 1]]
    rules = _rules(searched[0])
    if _valid_index(index, len(rules)):
        return rules[index]
    if isinstance(rule_id, str):
        return _rule_by_id(rule_id, searched)
    return None


def _rule_by_id(rule_id: str, components: list[dict[str, Any]]) -> dict[str, Any] | None:
    # A hierarchical id ("CA1000/sub") names a sub-rule of the rule "CA1000".
    for candidate in (rule_id, rule_id.split("/", 1)[0]):
        for component in components:
            for rule in _rules(component):
                if rule.get("id") == candidate:
                    return rule
    return None


def _rules(component: dict[str, Any]) -> list[dict[str, Any]]:
    rules = optional_list(component, "rules", FORMAT, "tool rules")
    return [as_dict(rule, FORMAT, "each rule") for rule in rules]


def _valid_index(index: Any, length: int) -> bool:
    return isinstance(index, int) and not isinstance(index, bool) and 0 <= index < length


def _level(result: dict[str, Any], rule: dict[str, Any] | None) -> str:
    if "level" in result:
        return _checked_level(result["level"], "result level")
    if result.get("kind", "fail") != "fail":
        return "none"
    config = (rule or {}).get("defaultConfiguration")
    if isinstance(config, dict) and "level" in config:
        return _checked_level(config["level"], "rule defaultConfiguration.level")
    return "warning"


def _checked_level(level: Any, what: str) -> str:
    if level not in LEVELS:
        raise ReportError(f"sarif: {what} {short(level)} is not one of {', '.join(LEVELS)}")
    return level


def _severity(rule: dict[str, Any] | None) -> str:
    """The GitHub code scanning bucket, or ``unrated`` / ``none`` (a score of 0)."""
    properties = (rule or {}).get("properties")
    if not isinstance(properties, dict) or properties.get("security-severity") is None:
        return "unrated"
    raw = properties["security-severity"]
    score = parse_decimal(str(raw), FORMAT, "security-severity") if _scalar(raw) else None
    if score is None or not 0 <= score <= 10:
        raise ReportError(f"sarif: security-severity {short(raw)} is not a score from 0 to 10")
    for bound, name in ((Decimal(9), "critical"), (Decimal(7), "high"), (Decimal(4), "medium")):
        if score >= bound:
            return name
    return "low" if score > 0 else "none"


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | Decimal) and not isinstance(value, bool)


def _report(levels: Counter[str], severities: Counter[str]) -> ParsedReport:
    total = sum(levels.values())
    metrics: dict[str, Decimal | None] = {"findings.total": count(total)}
    for level in ("error", "warning", "note"):
        metrics[f"findings.{level}"] = count(levels[level])
    notes: list[str] = []
    unrated, problems = severities["unrated"], sum(severities.values())
    if problems and unrated == problems:
        notes.append("no result's rule carries a security-severity: severity counts unknown")
        metrics.update({f"findings.{s}": None for s in SEVERITIES})
        return ParsedReport(FORMAT, metrics, tuple(notes))
    if unrated:
        notes.append(
            f"{unrated} of {problems} results have no security-severity and are not counted "
            "in findings.critical/high/medium/low"
        )
    metrics.update({f"findings.{s}": count(severities[s]) for s in SEVERITIES})
    return ParsedReport(FORMAT, metrics, tuple(notes))
