"""pip-audit ``-f json``: the number of known vulnerabilities.

Accepts the pip-audit 2.x object ``{"dependencies": [...], "fixes": [...]}`` and the legacy bare
list of dependencies (before 2.0). ``vulnerabilities.total`` adds up each dependency's
``vulns``. A dependency with a ``skip_reason`` was not audited (not on PyPI, a local path...),
so the total cannot be vouched for: it is ``None`` with a note naming the skipped dependencies.
An empty dependency list means nothing was audited: ``None`` as well.
"""

from __future__ import annotations

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

FORMAT = "pip-audit"
METRICS = ("vulnerabilities.total",)


def parse(data: bytes) -> ParsedReport:
    dependencies = _dependencies(load_json(data, FORMAT))
    if not dependencies:
        return ParsedReport(FORMAT, {METRICS[0]: None}, ("no dependencies: nothing was audited",))
    total = 0
    skipped: list[str] = []
    for dependency in dependencies:
        dependency = as_dict(dependency, FORMAT, "each dependency")
        name = dependency.get("name")
        name = name if isinstance(name, str) else "(unnamed)"
        if dependency.get("skip_reason") is not None:
            skipped.append(f"{name} ({str(dependency['skip_reason'])[:120]})")
            continue
        total += len(optional_list(dependency, "vulns", FORMAT, f"vulns of {name!r}"))
    if skipped:
        note = names_note(
            f"{len(skipped)} of {len(dependencies)} dependencies were not audited "
            f"({total} vulnerabilities among the others)",
            skipped,
        )
        return ParsedReport(FORMAT, {METRICS[0]: None}, (note,))
    return ParsedReport(FORMAT, {METRICS[0]: count(total)})


def _dependencies(doc: Any) -> list[Any]:
    if isinstance(doc, list):
        return doc  # legacy: the document is the dependency list
    doc = as_dict(doc, FORMAT, "the document")
    if "dependencies" not in doc:
        raise ReportError("pip-audit: no 'dependencies' array: not pip-audit JSON output")
    return as_list(doc["dependencies"], FORMAT, "'dependencies'")
