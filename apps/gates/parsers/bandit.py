"""Bandit ``-f json``: findings by ``issue_severity``.

``findings.total`` counts every result, including ones of ``UNDEFINED`` severity. A run that
could not read some files (``errors``: syntax errors, unreadable files) did not scan them, and a
run whose ``metrics`` list no file scanned nothing: in both cases every metric is ``None`` with a
note, since "0 high" would then be a pass without evidence.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ._common import (
    ParsedReport,
    ReportError,
    as_dict,
    as_list,
    count,
    load_json,
    names_note,
    optional_list,
)

FORMAT = "bandit"
SEVERITIES = ("high", "medium", "low")
METRICS = (*(f"findings.{s}" for s in SEVERITIES), "findings.total")


def parse(data: bytes) -> ParsedReport:
    doc = as_dict(load_json(data, FORMAT), FORMAT, "the document")
    if "results" not in doc:
        raise ReportError("bandit: no 'results' array: not bandit JSON output")
    results = as_list(doc["results"], FORMAT, "'results'")
    problem = _scan_problem(doc)
    if problem is not None:
        return ParsedReport(FORMAT, dict.fromkeys(METRICS), (problem,))
    severities = Counter(_severity(result) for result in results)
    metrics = {f"findings.{s}": count(severities[s]) for s in SEVERITIES}
    metrics["findings.total"] = count(len(results))
    return ParsedReport(FORMAT, metrics)


def _scan_problem(doc: dict[str, Any]) -> str | None:
    errors = optional_list(doc, "errors", FORMAT, "'errors'")
    if errors:
        described = [_describe_error(error) for error in errors]
        return names_note(f"bandit could not scan {len(errors)} file(s)", described)
    metrics = doc.get("metrics")
    if isinstance(metrics, dict) and not any(name != "_totals" for name in metrics):
        return "no files were scanned"
    return None


def _describe_error(error: Any) -> str:
    error = as_dict(error, FORMAT, "each error")
    return f"{error.get('filename', '?')} ({str(error.get('reason', 'no reason'))[:120]})"


def _severity(result: Any) -> str:
    severity = as_dict(result, FORMAT, "each result").get("issue_severity")
    return severity.lower() if isinstance(severity, str) else "undefined"
