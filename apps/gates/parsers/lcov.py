"""LCOV tracefiles (genhtml/geninfo, coverage.py ``coverage lcov``, c8/nyc, grcov): coverage.

Per ``SF:`` section, lines are counted from the ``DA:<line>,<hits>`` records and branches from
``BRDA:<line>,<block>,<branch>,<taken>`` (``-`` means never taken). Sections for the same source
file are merged (a line is covered when any section hit it). Only a section without ``DA``
(or ``BRDA``) records falls back to its ``LF``/``LH`` (``BRF``/``BRH``) counters, with a note.
``coverage.branch_percent`` is omitted when no branch was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ._common import ParsedReport, ReportError, parse_int, percent

FORMAT = "lcov"
METRICS = ("coverage.line_percent", "coverage.branch_percent")

_IGNORED = frozenset({"TN", "FN", "FNDA", "FNF", "FNH", "FNL", "FNA", "VER"})


@dataclass
class _Section:
    """One ``SF:`` ... ``end_of_record`` block."""

    source: str
    lines: dict[int, bool] = field(default_factory=dict)
    branches: dict[tuple[str, str, str], bool] = field(default_factory=dict)
    counters: dict[str, int] = field(default_factory=dict)


@dataclass
class _Totals:
    lines: dict[tuple[str, int], bool] = field(default_factory=dict)
    branches: dict[tuple[str, str, str, str], bool] = field(default_factory=dict)
    counted: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("LF", "LH", "BRF", "BRH"), 0)
    )
    fallback_files: list[str] = field(default_factory=list)


def parse(data: bytes) -> ParsedReport:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"lcov: not UTF-8 text: {exc}") from None
    totals = _Totals()
    for section in _sections(text):
        _merge(section, totals)
    return _report(totals)


def _sections(text: str) -> list[_Section]:
    sections: list[_Section] = []
    current: _Section | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "end_of_record":
            current = None
            continue
        key, sep, value = line.partition(":")
        if not sep:
            raise ReportError(f"lcov: line {number} is not a record: {line[:40]!r}")
        if key == "SF":
            current = _Section(value)
            sections.append(current)
        elif key not in _IGNORED:
            _record(current, key, value, number)
    if current is not None:
        # A cut-off upload would silently lose the files after the cut.
        raise ReportError(
            f"lcov: truncated: the section for {current.source!r} has no end_of_record"
        )
    return sections


def _record(section: _Section | None, key: str, value: str, number: int) -> None:
    if key not in ("DA", "BRDA", "LF", "LH", "BRF", "BRH"):
        return  # unknown records are ignored, as genhtml does
    if section is None:
        raise ReportError(f"lcov: line {number}: {key} record outside an SF: section")
    where = f"line {number} ({key})"
    fields = value.split(",")
    if key == "DA":
        if len(fields) < 2:
            raise ReportError(f"lcov: {where}: expected DA:<line>,<hits>")
        line_no = parse_int(fields[0], FORMAT, where)
        hit = _hits(fields[1], where) > 0
        section.lines[line_no] = section.lines.get(line_no, False) or hit
    elif key == "BRDA":
        _branch(section, fields, where)
    else:
        section.counters[key] = section.counters.get(key, 0) + parse_int(value, FORMAT, where)


def _hits(text: str, where: str) -> int:
    # Some generators write a negative or fractional count for an unexecuted line: <= 0 is a miss.
    value = text.strip()
    if value.startswith("-"):
        parse_int(value[1:].split(".", 1)[0], FORMAT, where)
        return 0
    return parse_int(value.split(".", 1)[0], FORMAT, where)


def _branch(section: _Section, fields: list[str], where: str) -> None:
    if len(fields) < 4:
        raise ReportError(f"lcov: {where}: expected BRDA:<line>,<block>,<branch>,<taken>")
    # The branch id may itself contain commas (coverage.py writes "jump to line 6").
    key = (fields[0], fields[1], ",".join(fields[2:-1]))
    taken = fields[-1].strip()
    hit = taken != "-" and parse_int(taken, FORMAT, where) > 0
    section.branches[key] = section.branches.get(key, False) or hit


def _merge(section: _Section, totals: _Totals) -> None:
    counters = section.counters
    for line_no, hit in section.lines.items():
        key = (section.source, line_no)
        totals.lines[key] = totals.lines.get(key, False) or hit
    for branch, hit in section.branches.items():
        key = (section.source, *branch)
        totals.branches[key] = totals.branches.get(key, False) or hit
    if not section.lines and "LF" in counters:
        totals.counted["LF"] += counters["LF"]
        totals.counted["LH"] += counters.get("LH", 0)
        totals.fallback_files.append(section.source)
    if not section.branches and "BRF" in counters:
        totals.counted["BRF"] += counters["BRF"]
        totals.counted["BRH"] += counters.get("BRH", 0)


def _report(totals: _Totals) -> ParsedReport:
    notes: list[str] = []
    lines_found = len(totals.lines) + totals.counted["LF"]
    lines_hit = sum(totals.lines.values()) + totals.counted["LH"]
    branches_found = len(totals.branches) + totals.counted["BRF"]
    branches_hit = sum(totals.branches.values()) + totals.counted["BRH"]
    if lines_hit > lines_found or branches_hit > branches_found:
        raise ReportError("lcov: LH/BRH counters exceed LF/BRF")
    if totals.fallback_files:
        notes.append(f"{len(totals.fallback_files)} file(s) have no DA records: LF/LH used")
    if lines_found == 0:
        notes.append("no lines found: the tracefile holds no line coverage")
    metrics = {"coverage.line_percent": percent(lines_hit, lines_found)}
    if branches_found > 0:
        metrics["coverage.branch_percent"] = percent(branches_hit, branches_found)
    else:
        notes.append("no branch data (branches were not measured or there are none)")
    return ParsedReport(FORMAT, metrics, tuple(notes))
