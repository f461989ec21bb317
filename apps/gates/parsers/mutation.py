"""Mutation testing reports: the mutation score, computed from the mutants.

Read formats:

* the mutation-testing-report schema (``{"files": {path: {"mutants": [{"status"}]}}}``),
  written by Stryker (JS, .NET, Scala), Infection's Stryker logger, mutmut/cosmic-ray converters;
* Infection's own JSON log (``{"stats", "killed", "escaped", "uncovered", "timeouted", ...}``).

``mutation.score_percent`` = (Killed + Timeout) / (Killed + Timeout + Survived + NoCoverage),
Stryker's definition. It is always computed from the mutants: a top-level ``mutationScore`` or
``msi`` is ignored (hand-edited reports disagree with their mutants). Compile/runtime errors and
ignored mutants are not valid mutants. No valid mutant, or a ``Pending`` one (an unfinished
run), gives ``None`` with a note.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from ._common import (
    ParsedReport,
    ReportError,
    as_count,
    as_dict,
    as_list,
    load_json,
    optional_list,
    percent,
    short,
)

FORMAT = "mutation"
METRICS = ("mutation.score_percent",)

DETECTED = ("Killed", "Timeout")
UNDETECTED = ("Survived", "NoCoverage")
STATUSES = frozenset({*DETECTED, *UNDETECTED, "CompileError", "RuntimeError", "Ignored", "Pending"})


def parse(data: bytes) -> ParsedReport:
    doc = as_dict(load_json(data, FORMAT), FORMAT, "the document")
    if "files" in doc:
        statuses = _schema_statuses(doc)
    elif "stats" in doc and "escaped" in doc:
        statuses = _infection_statuses(doc)
    else:
        raise ReportError("mutation: no 'files' object: not a mutation-testing report")
    return _report(statuses)


def _schema_statuses(doc: dict[str, Any]) -> Counter[str]:
    statuses: Counter[str] = Counter()
    for path, entry in as_dict(doc["files"], FORMAT, "'files'").items():
        entry = as_dict(entry, FORMAT, f"file {path!r}")
        for mutant in as_list(entry.get("mutants"), FORMAT, f"mutants of {path!r}"):
            status = as_dict(mutant, FORMAT, "each mutant").get("status")
            if not isinstance(status, str) or status not in STATUSES:
                raise ReportError(f"mutation: unknown mutant status {short(status)} in {path!r}")
            statuses[status] += 1
    return statuses


# Infection's JSON log: result array -> schema status.
_INFECTION = {
    "killed": "Killed",
    "timeouted": "Timeout",
    "escaped": "Survived",
    "uncovered": "NoCoverage",
    "errored": "RuntimeError",
    "syntaxErrors": "CompileError",
    "ignored": "Ignored",
}


def _infection_statuses(doc: dict[str, Any]) -> Counter[str]:
    statuses: Counter[str] = Counter()
    for key, status in _INFECTION.items():
        statuses[status] = len(optional_list(doc, key, FORMAT, f"{key!r}"))
    # With --only-covered Infection leaves "uncovered" empty but still counts them in stats;
    # take the larger of the two so that uncovered mutants are never dropped.
    stats = as_dict(doc["stats"], FORMAT, "'stats'")
    if "notCoveredCount" in stats:
        declared = as_count(stats["notCoveredCount"], FORMAT, "stats.notCoveredCount")
        statuses["NoCoverage"] = max(statuses["NoCoverage"], declared)
    return statuses


def _report(statuses: Counter[str]) -> ParsedReport:
    detected = sum(statuses[s] for s in DETECTED)
    valid = detected + sum(statuses[s] for s in UNDETECTED)
    notes: list[str] = []
    if valid == 0:
        notes.append(f"no valid mutants ({sum(statuses.values())} mutants in all): no score")
    score = percent(detected, valid)
    if statuses["Pending"]:
        # Untested mutants may yet survive: the score so far is not evidence of the final one.
        notes.append(f"{statuses['Pending']} mutants are still Pending: the run was incomplete")
        score = None
    return ParsedReport(FORMAT, {METRICS[0]: score}, tuple(notes))
