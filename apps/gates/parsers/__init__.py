"""Report parsers: bytes in, named metrics out.

One module per format, each exposing ``parse(data: bytes) -> ParsedReport``. A metric whose value
is ``None`` means the report holds no evidence for it (the notes say why); a parser never invents
a number that could make a gate pass without evidence. Every problem with the file itself -
malformed, truncated, hostile, of the wrong shape - is raised as ``ReportError`` with a message
meant for the uploader.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import defusedxml.ElementTree as SafeET

from . import (
    bandit,
    cargo_audit,
    cobertura,
    coverage_json,
    junit,
    k6,
    lcov,
    mutation,
    pip_audit,
    sarif,
    trivy,
)
from ._common import XML_ERRORS, ParsedReport, ReportError, load_json, xml_error

__all__ = [
    "METRICS",
    "PARSERS",
    "ParsedReport",
    "ReportError",
    "UnknownFormat",
    "detect_format",
    "parse_report",
]

_MODULES = (
    junit,
    cobertura,
    lcov,
    coverage_json,
    sarif,
    trivy,
    cargo_audit,
    pip_audit,
    bandit,
    k6,
    mutation,
)

PARSERS: dict[str, Callable[[bytes], ParsedReport]] = {m.FORMAT: m.parse for m in _MODULES}

#: Per format, the metric names its parser can produce (for the spec validator).
METRICS: dict[str, tuple[str, ...]] = {m.FORMAT: m.METRICS for m in _MODULES}


class UnknownFormat(ReportError):
    """The format was not named and could not be detected, or the name is not known."""


def parse_report(data: bytes, format: str | None = None) -> ParsedReport:
    """Parse ``data`` as the named ``format``, or as the format ``detect_format`` finds."""
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if not isinstance(data, bytes):
        raise TypeError(f"report data must be bytes, not {type(data).__name__}")
    if format is None:
        format = detect_format(data)
    parser = PARSERS.get(format)
    if parser is None:
        known = ", ".join(sorted(PARSERS))
        raise UnknownFormat(f"unknown report format {format!r}; known formats: {known}")
    return parser(data)


def detect_format(data: bytes) -> str:
    """Tell the format from the structure: the XML root tag, the JSON keys, LCOV records."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        found = _detect_xml(data)
    elif head in (b"{", b"["):
        found = _detect_json(load_json(data, "report"))
    else:
        found = _detect_text(data)
    if found is None:
        raise UnknownFormat("cannot detect the report format; name it with format=...")
    return found


def _detect_xml(data: bytes) -> str | None:
    """Read only up to the root element's start tag (defused: no entities, nothing fetched)."""
    try:
        for _event, element in SafeET.iterparse(io.BytesIO(data), events=("start",)):
            tag = element.tag.rsplit("}", 1)[-1]
            return {"testsuites": "junit", "testsuite": "junit", "coverage": "cobertura"}.get(tag)
    except XML_ERRORS as exc:
        raise xml_error(exc, "report") from None
    return None


def _detect_json(doc: Any) -> str | None:
    if isinstance(doc, list):
        return _detect_json_list(doc)
    if not isinstance(doc, dict):
        return None
    for fmt, keys in _JSON_SIGNATURES:
        if all(key in doc for key in keys):
            return fmt
    return None


# Checked in order; each signature is a set of top-level keys the tool always writes.
_JSON_SIGNATURES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("sarif", ("runs", "version")),
    ("trivy", ("SchemaVersion",)),
    ("cargo-audit", ("vulnerabilities", "lockfile")),
    ("cargo-audit", ("vulnerabilities", "database")),
    ("bandit", ("results", "metrics", "errors")),
    ("bandit", ("results", "generated_at")),
    ("k6", ("metrics", "root_group")),
    ("mutation", ("files", "schemaVersion")),
    ("mutation", ("files", "thresholds")),
    ("mutation", ("stats", "escaped", "killed")),
    ("coverage-json", ("totals", "files", "meta")),
    ("pip-audit", ("dependencies",)),
)


def _detect_json_list(doc: list[Any]) -> str | None:
    """Legacy bare arrays: Trivy before SchemaVersion 2, pip-audit before 2.0."""
    first = doc[0] if doc else None
    if not isinstance(first, dict):
        return None
    if "Target" in first:
        return "trivy"
    if "name" in first and ("vulns" in first or "skip_reason" in first):
        return "pip-audit"
    return None


def _detect_text(data: bytes) -> str | None:
    """LCOV tracefiles start with a ``TN:`` or ``SF:`` record."""
    for raw in data[:4096].splitlines():
        line = raw.strip()
        if line:
            return "lcov" if line.startswith((b"TN:", b"SF:")) else None
    return None
