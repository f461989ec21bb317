"""Cobertura XML (coverage.py, gcovr, istanbul/nyc, JaCoCo converters): line and branch coverage.

Lines are counted from the ``<line>`` elements of each ``<class><lines>``; method-level
``<lines>`` repeat class lines and are ignored (istanbul writes both). A line listed twice for
the same file (several classes of one file, merged reports) is counted once, covered when any
entry has hits. Branches come from the ``(covered/total)`` part of ``condition-coverage``.

When the file has no ``<line>`` element at all, the root's ``lines-covered``/``lines-valid``
(and ``branches-covered``/``branches-valid``) counters are used, with a note. The ``line-rate``
and ``branch-rate`` attributes are never used: old coverage.py writes ``branch-rate="0"`` when
branches were not measured. ``coverage.branch_percent`` is omitted when there is no branch data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from xml.etree.ElementTree import Element

from ._common import ParsedReport, ReportError, load_xml, local_tag, parse_int, percent

FORMAT = "cobertura"
METRICS = ("coverage.line_percent", "coverage.branch_percent")

_CONDITIONS = re.compile(r"\((\d{1,18})/(\d{1,18})\)")


@dataclass
class _LineState:
    hit: bool = False
    branches: tuple[int, int] | None = None  # (covered, total)


@dataclass
class _Coverage:
    lines: dict[tuple[str, int], _LineState] = field(default_factory=dict)


def parse(data: bytes) -> ParsedReport:
    root = load_xml(data, FORMAT)
    if local_tag(root) != "coverage":
        raise ReportError(f"cobertura: root element is <{local_tag(root)}>, expected <coverage>")
    coverage = _Coverage()
    for cls in root.iter():
        if local_tag(cls) == "class":
            _read_class(cls, coverage)
    if not coverage.lines:
        return _from_header(root)
    return _from_lines(root, coverage)


def _read_class(cls: Element, coverage: _Coverage) -> None:
    filename = cls.get("filename") or cls.get("name") or ""
    for lines in cls:
        if local_tag(lines) != "lines":
            continue
        for line in lines:
            if local_tag(line) == "line":
                _read_line(filename, line, coverage)


def _read_line(filename: str, line: Element, coverage: _Coverage) -> None:
    number = parse_int(line.get("number"), FORMAT, f"<line number> in {filename!r}")
    hits = parse_int(line.get("hits"), FORMAT, f"<line hits> at {filename}:{number}")
    state = coverage.lines.setdefault((filename, number), _LineState())
    state.hit = state.hit or hits > 0
    branches = _conditions(line.get("condition-coverage"), filename, number)
    if branches is not None and (state.branches is None or branches > state.branches):
        state.branches = branches


def _conditions(text: str | None, filename: str, number: int) -> tuple[int, int] | None:
    if not text:
        return None
    match = _CONDITIONS.search(text)
    if match is None:
        raise ReportError(
            f"cobertura: condition-coverage {text[:40]!r} at {filename}:{number} "
            "has no (covered/total) part"
        )
    covered, total = int(match.group(1)), int(match.group(2))
    if covered > total:
        raise ReportError(f"cobertura: condition-coverage at {filename}:{number} exceeds 100 %")
    return covered, total


def _from_lines(root: Element, coverage: _Coverage) -> ParsedReport:
    valid = len(coverage.lines)
    covered = sum(1 for state in coverage.lines.values() if state.hit)
    branch_data = [s.branches for s in coverage.lines.values() if s.branches is not None]
    notes = _header_disagreements(root, covered, valid, "lines")
    metrics = {"coverage.line_percent": percent(covered, valid)}
    b_covered = sum(b[0] for b in branch_data)
    b_total = sum(b[1] for b in branch_data)
    if b_total > 0:
        metrics["coverage.branch_percent"] = percent(b_covered, b_total)
        notes += _header_disagreements(root, b_covered, b_total, "branches")
    else:
        notes.append("no branch data (branches were not measured or there are none)")
    return ParsedReport(FORMAT, metrics, tuple(notes))


def _header_disagreements(root: Element, covered: int, valid: int, kind: str) -> list[str]:
    """Say so when the root's counters disagree with what the elements add up to."""
    header_valid, header_covered = root.get(f"{kind}-valid"), root.get(f"{kind}-covered")
    if header_valid is None or header_covered is None:
        return []
    if (header_covered.strip(), header_valid.strip()) == (str(covered), str(valid)):
        return []
    return [
        f"the root says {kind}-covered={header_covered} {kind}-valid={header_valid}, "
        f"the {kind} listed add up to {covered}/{valid}; the listed {kind} were used"
    ]


def _from_header(root: Element) -> ParsedReport:
    """No ``<line>`` elements: fall back to the root's counters, if it has them."""
    notes = ["no <line> elements: figures taken from the root's counters"]
    valid = _header_count(root, "lines-valid")
    covered = _header_count(root, "lines-covered")
    if valid is None or covered is None:
        notes = ["no <line> elements and no lines-valid/lines-covered counters: no line data"]
    elif valid == 0:
        notes.append("0 valid lines: nothing to measure")
    metrics = {"coverage.line_percent": _checked_percent(covered, valid, "lines")}
    b_valid = _header_count(root, "branches-valid")
    b_covered = _header_count(root, "branches-covered")
    if b_valid and b_covered is not None:
        metrics["coverage.branch_percent"] = _checked_percent(b_covered, b_valid, "branches")
    else:
        notes.append("no branch data (branches were not measured or there are none)")
    return ParsedReport(FORMAT, metrics, tuple(notes))


def _header_count(root: Element, name: str) -> int | None:
    text = root.get(name)
    return None if text is None else parse_int(text, FORMAT, f"<coverage {name}>")


def _checked_percent(covered: int | None, valid: int | None, kind: str) -> Decimal | None:
    if covered is None or valid is None:
        return None
    if covered > valid:
        raise ReportError(f"cobertura: {kind}-covered ({covered}) exceeds {kind}-valid ({valid})")
    return percent(covered, valid)
