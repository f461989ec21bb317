"""JUnit XML (pytest, Maven Surefire, Jest, gotestsum, ...): test counts and pass percentage.

The figures are counted from the ``<testcase>`` elements, at any depth, under a ``<testsuites>``
or ``<testsuite>`` root. The suites' ``tests``/``failures`` attributes are ignored: gotestsum
writes ``tests="0"`` on a package whose ``TestMain`` failed, and trimmed files disagree too.

A test case is classified by its children:

* ``<failure>``/``<error>`` - failed (``tests.failed`` is failures + errors);
* ``<rerunFailure>``/``<rerunError>`` - failed: Surefire writes them, next to the first run's
  ``<failure>``/``<error>``, only when every rerun failed as well;
* ``<skipped>`` - skipped (unless it also failed);
* ``<flakyFailure>``/``<flakyError>`` alone - passed on a rerun (Surefire's "flaky"): counted
  as passed, and a note names the test;
* anything else - passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from ._common import ParsedReport, ReportError, count, load_xml, local_tag, names_note, percent

FORMAT = "junit"
METRICS = ("tests.total", "tests.failed", "tests.skipped", "tests.pass_percent")

_ROOTS = ("testsuites", "testsuite")
_FAILED = frozenset({"failure", "error", "rerunFailure", "rerunError"})
_FLAKY = frozenset({"flakyFailure", "flakyError"})


@dataclass
class _Tally:
    total: int = 0
    failed: int = 0
    skipped: int = 0
    flaky: list[str] = field(default_factory=list)


def parse(data: bytes) -> ParsedReport:
    root = load_xml(data, FORMAT)
    tag = local_tag(root)
    if tag not in _ROOTS:
        raise ReportError(f"junit: root element is <{tag}>, expected <testsuites> or <testsuite>")
    tally = _Tally()
    for case in root.iter():
        if local_tag(case) == "testcase":
            _classify(case, tally)
    return _report(tally)


def _classify(case: Element, tally: _Tally) -> None:
    kinds = {local_tag(child) for child in case}
    tally.total += 1
    if kinds & _FAILED:
        tally.failed += 1
    elif "skipped" in kinds:
        tally.skipped += 1
    elif kinds & _FLAKY:
        tally.flaky.append(_case_name(case))


def _case_name(case: Element) -> str:
    classname = case.get("classname") or ""
    name = case.get("name") or "(unnamed)"
    return f"{classname}.{name}" if classname else name


def _report(tally: _Tally) -> ParsedReport:
    notes: list[str] = []
    if tally.flaky:
        notes.append(names_note("flaky, passed on rerun (counted as passed)", tally.flaky))
    if tally.total == 0:
        # No test ran: "0 failed" would be a pass without evidence.
        notes.append("no test cases: the report holds no test results")
        metrics = dict.fromkeys(METRICS)
        metrics["tests.total"] = count(0)
        return ParsedReport(FORMAT, metrics, tuple(notes))
    ran = tally.total - tally.skipped
    passed = ran - tally.failed
    if ran == 0:
        notes.append(f"all {tally.total} test cases were skipped: no pass percentage")
    return ParsedReport(
        FORMAT,
        {
            "tests.total": count(tally.total),
            "tests.failed": count(tally.failed),
            "tests.skipped": count(tally.skipped),
            "tests.pass_percent": percent(passed, ran),
        },
        tuple(notes),
    )
