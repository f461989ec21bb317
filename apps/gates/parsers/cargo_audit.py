"""cargo-audit ``--json``: vulnerabilities, warnings, and vulnerabilities by CVSS severity.

``vulnerabilities.total`` is the length of ``vulnerabilities.list`` (an advisory that hits two
versions of a crate is two entries). ``warnings.total`` adds up every warning kind
(``unmaintained``, ``unsound``, ``yanked``, ``notice``...).

Severity comes from the advisory's CVSS v3 vector, scored with the CVSS 3.1 base-score formula
and bucketed as NVD does (>= 9 critical, >= 7 high, >= 4 medium, > 0 low). An advisory with
``"cvss": null`` (most RustSec advisories), a CVSS v4 vector or an unreadable one has no known
severity: it counts as ``unknown``, never as ``low``.
"""

from __future__ import annotations

import math
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
)

FORMAT = "cargo-audit"
SEVERITIES = ("critical", "high", "medium", "low", "unknown")
METRICS = (
    "vulnerabilities.total",
    "warnings.total",
    *(f"vulnerabilities.{s}" for s in SEVERITIES),
)


def parse(data: bytes) -> ParsedReport:
    doc = as_dict(load_json(data, FORMAT), FORMAT, "the document")
    if "vulnerabilities" not in doc:
        raise ReportError("cargo-audit: no 'vulnerabilities' object: not cargo-audit --json output")
    vulnerabilities = as_dict(doc["vulnerabilities"], FORMAT, "'vulnerabilities'")
    if "list" not in vulnerabilities:
        raise ReportError("cargo-audit: 'vulnerabilities' has no 'list'")
    entries = as_list(vulnerabilities["list"], FORMAT, "vulnerabilities.list")
    severities = Counter(_severity(entry) for entry in entries)
    metrics = {
        "vulnerabilities.total": count(len(entries)),
        "warnings.total": count(_warnings(doc.get("warnings"))),
        **{f"vulnerabilities.{s}": count(severities[s]) for s in SEVERITIES},
    }
    notes: tuple[str, ...] = ()
    if severities["unknown"]:
        notes = (
            f"{severities['unknown']} vulnerabilities have no CVSS v3 score "
            "(cvss null or another version): counted as unknown severity",
        )
    return ParsedReport(FORMAT, metrics, notes)


def _warnings(warnings: Any) -> int:
    """``{kind: [warning, ...]}`` (current) or a flat list (cargo-audit before 0.12)."""
    if warnings is None:
        return 0
    if isinstance(warnings, list):
        return len(warnings)
    warnings = as_dict(warnings, FORMAT, "'warnings'")
    return sum(len(optional_list(warnings, kind, FORMAT, f"warnings.{kind}")) for kind in warnings)


def _severity(entry: Any) -> str:
    advisory = as_dict(
        as_dict(entry, FORMAT, "each vulnerability").get("advisory"), FORMAT, "advisory"
    )
    score = cvss3_base_score(advisory.get("cvss"))
    if score is None:
        return "unknown"
    for bound, name in ((Decimal(9), "critical"), (Decimal(7), "high"), (Decimal(4), "medium")):
        if score >= bound:
            return name
    return "low" if score > 0 else "unknown"


# CVSS 3.x base metric weights (FIRST CVSS v3.1 specification, section 7.4).
_WEIGHTS: dict[str, dict[str, float]] = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_PRIVILEGES = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}


def cvss3_base_score(vector: Any) -> Decimal | None:
    """The CVSS 3.x base score of a vector string, or ``None`` when it is not one."""
    parts = _vector_parts(vector)
    if parts is None:
        return None
    scope = parts["S"]
    iss = 1 - (1 - parts["C"]) * (1 - parts["I"]) * (1 - parts["A"])
    changed = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15  # scope changed (S:C)
    impact = 6.42 * iss if scope == "U" else changed
    if impact <= 0:
        return Decimal(0)
    exploitability = 8.22 * parts["AV"] * parts["AC"] * parts["PR"] * parts["UI"]
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return _roundup(min(total, 10.0))


def _vector_parts(vector: Any) -> dict[str, Any] | None:
    if not isinstance(vector, str) or not vector.startswith(("CVSS:3.0/", "CVSS:3.1/")):
        return None
    fields = dict(item.partition(":")[::2] for item in vector.split("/")[1:])
    scope = fields.get("S")
    if scope not in _PRIVILEGES:
        return None
    parts: dict[str, Any] = {"S": scope}
    for name, weights in (*_WEIGHTS.items(), ("PR", _PRIVILEGES[scope])):
        if fields.get(name) not in weights:
            return None
        parts[name] = weights[fields[name]]
    return parts


def _roundup(value: float) -> Decimal:
    """CVSS 3.1 Roundup: the smallest one-decimal number >= value, robust to float noise."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return Decimal(scaled // 10_000) / 10
    return Decimal(math.floor(scaled / 10_000) + 1) / 10
