"""coverage.py ``coverage json`` output: line and branch coverage from ``totals``.

``coverage.line_percent`` is ``covered_lines / num_statements`` (coverage.py's own
``percent_covered`` mixes lines and branches, so it is not used). ``coverage.branch_percent``
is ``covered_branches / num_branches`` and is omitted when branches were not measured
(``meta.branch_coverage`` false, or no ``num_branches``) or there are none.
"""

from __future__ import annotations

from ._common import ParsedReport, ReportError, as_count, as_dict, load_json, percent

FORMAT = "coverage-json"
METRICS = ("coverage.line_percent", "coverage.branch_percent")


def parse(data: bytes) -> ParsedReport:
    doc = as_dict(load_json(data, FORMAT), FORMAT, "the document")
    if "totals" not in doc:
        raise ReportError("coverage-json: no 'totals' object: not `coverage json` output")
    totals = as_dict(doc["totals"], FORMAT, "'totals'")
    covered = _count(totals, "covered_lines")
    statements = _count(totals, "num_statements")
    notes: list[str] = []
    if covered > statements:
        raise ReportError("coverage-json: covered_lines exceeds num_statements")
    if statements == 0:
        notes.append("0 statements: nothing was measured")
    metrics = {"coverage.line_percent": percent(covered, statements)}
    branches = _branches(doc, totals)
    if branches is None:
        notes.append("no branch data (branches were not measured or there are none)")
    else:
        metrics["coverage.branch_percent"] = percent(*branches)
    return ParsedReport(FORMAT, metrics, tuple(notes))


def _branches(doc: dict, totals: dict) -> tuple[int, int] | None:
    meta = doc.get("meta")
    if isinstance(meta, dict) and meta.get("branch_coverage") is False:
        return None
    if "num_branches" not in totals:
        return None
    found = _count(totals, "num_branches")
    covered = _count(totals, "covered_branches")
    if covered > found:
        raise ReportError("coverage-json: covered_branches exceeds num_branches")
    return (covered, found) if found > 0 else None


def _count(totals: dict, key: str) -> int:
    if key not in totals:
        raise ReportError(f"coverage-json: 'totals' has no {key!r}")
    return as_count(totals[key], FORMAT, f"totals.{key}")
