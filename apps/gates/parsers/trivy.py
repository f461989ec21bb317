"""Trivy JSON (``trivy ... --format json``): vulnerability entries by severity.

Accepts the current ``{"SchemaVersion": 2, "Results": [...]}`` object and the legacy bare array
of results (before Trivy 0.20). Entries are counted, not unique CVEs: one CVE in two packages
is two things to fix. A result without a ``Vulnerabilities`` key, or with ``null``, is clean.
The ``Severity`` field is used (not the per-vendor ``VendorSeverity``); a missing or unknown
severity counts as ``unknown``.

No results at all means nothing was scanned (Trivy omits ``Results`` when it found no target):
every metric is ``None`` with a note. Trivy's ``--severity`` filter is not recorded in the file,
so a report made with ``--severity HIGH,CRITICAL`` shows 0 medium/low whatever the truth is.
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
    optional_list,
    short,
)

FORMAT = "trivy"
SEVERITIES = ("critical", "high", "medium", "low", "unknown")
METRICS = (*(f"vulnerabilities.{s}" for s in SEVERITIES), "vulnerabilities.total")


def parse(data: bytes) -> ParsedReport:
    results = _results(load_json(data, FORMAT))
    if not results:
        note = "no Results: Trivy found nothing to scan"
        return ParsedReport(FORMAT, dict.fromkeys(METRICS), (note,))
    severities: Counter[str] = Counter()
    for result in results:
        result = as_dict(result, FORMAT, "each result")
        for vuln in optional_list(result, "Vulnerabilities", FORMAT, "'Vulnerabilities'"):
            severities[_severity(as_dict(vuln, FORMAT, "each vulnerability"))] += 1
    metrics = {f"vulnerabilities.{s}": count(severities[s]) for s in SEVERITIES}
    metrics["vulnerabilities.total"] = count(sum(severities.values()))
    notes: tuple[str, ...] = ()
    if severities["unknown"]:
        notes = (f"{severities['unknown']} vulnerabilities have no known severity",)
    return ParsedReport(FORMAT, metrics, notes)


def _results(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc  # legacy: the document is the results array
    doc = as_dict(doc, FORMAT, "the document")
    if "SchemaVersion" not in doc:
        raise ReportError("trivy: no 'SchemaVersion': not a Trivy JSON report")
    if doc["SchemaVersion"] != 2:
        raise ReportError(f"trivy: SchemaVersion {short(doc['SchemaVersion'])} is not supported")
    results = doc.get("Results")
    return [] if results is None else as_list(results, FORMAT, "'Results'")


def _severity(vuln: dict[str, Any]) -> str:
    severity = vuln.get("Severity")
    name = severity.lower() if isinstance(severity, str) else "unknown"
    return name if name in SEVERITIES else "unknown"
