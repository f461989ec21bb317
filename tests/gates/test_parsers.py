"""Report parsers: golden figures from real tool output, tool-semantics traps, hostile input.

The fixtures under ``tests/fixtures/reports/`` are real reports (see SOURCES.md there). No test
here needs Django or a database.
"""

from __future__ import annotations

import contextlib
import copy
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from apps.gates.parsers import (
    METRICS,
    PARSERS,
    ParsedReport,
    ReportError,
    UnknownFormat,
    detect_format,
    parse_report,
)
from apps.gates.parsers._common import percent
from apps.gates.parsers.cargo_audit import cvss3_base_score

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"

FORMATS = {
    "junit",
    "cobertura",
    "lcov",
    "coverage-json",
    "sarif",
    "trivy",
    "cargo-audit",
    "pip-audit",
    "bandit",
    "k6",
    "mutation",
}


def fixture(path: str) -> bytes:
    return (FIXTURES / path).read_bytes()


def figures(report: ParsedReport) -> dict[str, str | None]:
    """Metrics as strings, so that 75.00 and 75 are told apart."""
    return {k: None if v is None else str(v) for k, v in report.metrics.items()}


def parse_json(fmt: str, doc: Any) -> ParsedReport:
    return parse_report(json.dumps(doc).encode(), fmt)


def notes_text(report: ParsedReport) -> str:
    return " | ".join(report.notes)


# --- golden figures per fixture --------------------------------------------------------------

NO_SEVERITY = {f"findings.{s}": None for s in ("critical", "high", "medium", "low")}
ZERO_SEVERITY = {f"findings.{s}": "0" for s in ("critical", "high", "medium", "low")}

GOLDEN: list[tuple[str, str, dict[str, str | None]]] = [
    (
        "junit/maven-surefire-TEST-com.shape.CircleTest.xml",
        "junit",
        {
            "tests.total": "8",
            "tests.failed": "2",
            "tests.skipped": "0",
            "tests.pass_percent": "75.00",
        },
    ),
    (
        # TRAP: the badmain suite says tests="0" but holds a failing TestMain.
        "junit/gotestsum-junitxml-report.golden.xml",
        "junit",
        {
            "tests.total": "47",
            "tests.failed": "5",
            "tests.skipped": "4",
            "tests.pass_percent": "88.37",
        },
    ),
    (
        "junit/pytest-junit.gloo.elastic.xml",
        "junit",
        {
            "tests.total": "14",
            "tests.failed": "0",
            "tests.skipped": "4",
            "tests.pass_percent": "100.00",
        },
    ),
    (
        "junit/pytest-9.2.0-generated.xml",
        "junit",
        {
            "tests.total": "8",
            "tests.failed": "2",
            "tests.skipped": "3",
            "tests.pass_percent": "60.00",
        },
    ),
    (
        "cobertura/gcovr-8.0-gcc-8-cobertura.xml",
        "cobertura",
        {"coverage.line_percent": "63.64", "coverage.branch_percent": "50.00"},
    ),
    (
        # branch-rate="0" but branches were never measured: no branch metric, not 0 %.
        "cobertura/coveragepy-4.0.3-test-python.xml",
        "cobertura",
        {"coverage.line_percent": "90.00"},
    ),
    (
        "cobertura/istanbul-test-istanbul.xml",
        "cobertura",
        {"coverage.line_percent": "100.00", "coverage.branch_percent": "100.00"},
    ),
    (
        "cobertura/coveragepy-7.17.4-branch.xml",
        "cobertura",
        {"coverage.line_percent": "75.00", "coverage.branch_percent": "66.67"},
    ),
    ("cobertura/coveragepy-7.17.4-nobranch.xml", "cobertura", {"coverage.line_percent": "75.00"}),
    (
        "lcov/coveragepy-7.17.4-branch.lcov",
        "lcov",
        {"coverage.line_percent": "75.00", "coverage.branch_percent": "66.67"},
    ),
    ("lcov/coveragepy-7.17.4-nobranch.lcov", "lcov", {"coverage.line_percent": "75.00"}),
    (
        "coverage-json/coveragepy-7.17.4-branch.json",
        "coverage-json",
        {"coverage.line_percent": "75.00", "coverage.branch_percent": "66.67"},
    ),
    (
        "coverage-json/coveragepy-7.17.4-nobranch.json",
        "coverage-json",
        {"coverage.line_percent": "75.00"},
    ),
    (
        # TRAP: no result has a level; the rules' defaultConfiguration.level is "note".
        "sarif/codeql-action-valid-sarif.sarif",
        "sarif",
        {
            "findings.total": "3",
            "findings.error": "0",
            "findings.warning": "0",
            "findings.note": "3",
            **NO_SEVERITY,
        },
    ),
    (
        "sarif/codeql-action-empty-sarif.sarif",
        "sarif",
        {
            "findings.total": "0",
            "findings.error": "0",
            "findings.warning": "0",
            "findings.note": "0",
            **ZERO_SEVERITY,
        },
    ),
    (
        "sarif/dockle-0.3.15.sarif",
        "sarif",
        {
            "findings.total": "4",
            "findings.error": "1",
            "findings.warning": "0",
            "findings.note": "3",
            **NO_SEVERITY,
        },
    ),
    (
        "sarif/ruff-0.17.6.sarif",
        "sarif",
        {
            "findings.total": "8",
            "findings.error": "8",
            "findings.warning": "0",
            "findings.note": "0",
            **NO_SEVERITY,
        },
    ),
    (
        "trivy/trivy-pip.json",
        "trivy",
        {
            "vulnerabilities.critical": "0",
            "vulnerabilities.high": "1",
            "vulnerabilities.medium": "1",
            "vulnerabilities.low": "0",
            "vulnerabilities.unknown": "0",
            "vulnerabilities.total": "2",
        },
    ),
    (
        # One CVE in two packages: two entries.
        "trivy/trivy-alpine-39-high-critical.json",
        "trivy",
        {
            "vulnerabilities.critical": "2",
            "vulnerabilities.high": "0",
            "vulnerabilities.medium": "0",
            "vulnerabilities.low": "0",
            "vulnerabilities.unknown": "0",
            "vulnerabilities.total": "2",
        },
    ),
    (
        # TRAP: the result has no Vulnerabilities key at all: clean.
        "trivy/trivy-cargo-lock-no-vulns.json",
        "trivy",
        {
            "vulnerabilities.critical": "0",
            "vulnerabilities.high": "0",
            "vulnerabilities.medium": "0",
            "vulnerabilities.low": "0",
            "vulnerabilities.unknown": "0",
            "vulnerabilities.total": "0",
        },
    ),
    (
        # Legacy bare array; "Vulnerabilities": null; one entry without Severity.
        "trivy/defectdojo-legacy_trivy_mix.json",
        "trivy",
        {
            "vulnerabilities.critical": "0",
            "vulnerabilities.high": "6",
            "vulnerabilities.medium": "0",
            "vulnerabilities.low": "0",
            "vulnerabilities.unknown": "1",
            "vulnerabilities.total": "7",
        },
    ),
    (
        # CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H scores 6.2: medium.
        "cargo-audit/rustsec-cargo-audit-tests-audit.json",
        "cargo-audit",
        {
            "vulnerabilities.total": "1",
            "warnings.total": "1",
            "vulnerabilities.critical": "0",
            "vulnerabilities.high": "0",
            "vulnerabilities.medium": "1",
            "vulnerabilities.low": "0",
            "vulnerabilities.unknown": "0",
        },
    ),
    (
        # TRAP: every cvss is null: unknown severity, never low.
        "cargo-audit/defectdojo-many_findings.json",
        "cargo-audit",
        {
            "vulnerabilities.total": "4",
            "warnings.total": "9",
            "vulnerabilities.critical": "0",
            "vulnerabilities.high": "0",
            "vulnerabilities.medium": "0",
            "vulnerabilities.low": "0",
            "vulnerabilities.unknown": "4",
        },
    ),
    (
        "cargo-audit/defectdojo-no_findings.json",
        "cargo-audit",
        {
            "vulnerabilities.total": "0",
            "warnings.total": "0",
            "vulnerabilities.critical": "0",
            "vulnerabilities.high": "0",
            "vulnerabilities.medium": "0",
            "vulnerabilities.low": "0",
            "vulnerabilities.unknown": "0",
        },
    ),
    # Both pip-audit files skip azure-devops: the total cannot be vouched for.
    ("pip-audit/defectdojo-many_vulns_new.json", "pip-audit", {"vulnerabilities.total": None}),
    (
        "pip-audit/defectdojo-zero_vulns-legacy-list.json",
        "pip-audit",
        {"vulnerabilities.total": None},
    ),
    (
        "bandit/bandit-1.9.4.json",
        "bandit",
        {
            "findings.high": "2",
            "findings.medium": "3",
            "findings.low": "4",
            "findings.total": "9",
        },
    ),
    (
        "bandit/bandit-1.9.4-syntax-error.json",
        "bandit",
        {
            "findings.high": None,
            "findings.medium": None,
            "findings.low": None,
            "findings.total": None,
        },
    ),
    (
        "k6/k6-reporter-handleSummary-test-data.json",
        "k6",
        {
            "http_req_duration.p95_ms": "30.03",
            "http_req_duration.p99_ms": "39.58",
            "http_req_failed.percent": "39.75",
            "checks.pass_percent": "60.25",
            "thresholds.failed": "0",
        },
    ),
    (
        # TRAP: legacy "p(95)<1000": true means that threshold FAILED.
        "k6/summary-export-legacy-summary.json",
        "k6",
        {
            "http_req_duration.p95_ms": "1957.71",
            "http_req_failed.percent": "5.28",
            "checks.pass_percent": None,
            "thresholds.failed": "1",
        },
    ),
    ("mutation/stryker-schema-strict-report.json", "mutation", {"mutation.score_percent": "50.00"}),
    (
        # TRAP: the stored mutationScore says 50; the mutants say 1 of 3.
        "mutation/stryker-elements-simple-example.json",
        "mutation",
        {"mutation.score_percent": "33.33"},
    ),
    ("mutation/infection-php-example-report.json", "mutation", {"mutation.score_percent": "53.85"}),
]


@pytest.mark.parametrize(("path", "fmt", "expected"), GOLDEN, ids=[c[0] for c in GOLDEN])
def test_golden_figures(path: str, fmt: str, expected: dict[str, str | None]) -> None:
    report = parse_report(fixture(path), fmt)
    assert report.format == fmt
    assert figures(report) == expected


@pytest.mark.parametrize(("path", "fmt"), [c[:2] for c in GOLDEN], ids=[c[0] for c in GOLDEN])
def test_detect_format_of_each_fixture(path: str, fmt: str) -> None:
    data = fixture(path)
    assert detect_format(data) == fmt
    assert parse_report(data) == parse_report(data, fmt)


@pytest.mark.parametrize(("path", "fmt"), [c[:2] for c in GOLDEN], ids=[c[0] for c in GOLDEN])
def test_metrics_are_declared_and_none_has_a_reason(path: str, fmt: str) -> None:
    report = parse_report(fixture(path), fmt)
    assert set(report.metrics) <= set(METRICS[fmt])
    assert all(v is None or isinstance(v, Decimal) for v in report.metrics.values())
    if None in report.metrics.values():
        assert report.notes, "a metric without evidence must say why"


def test_every_fixture_is_covered_by_a_golden_case() -> None:
    on_disk = {p.relative_to(FIXTURES).as_posix() for p in FIXTURES.glob("*/*")}
    tested = {c[0] for c in GOLDEN} | {"junit/pytest-corrupt-xml.xml"}
    assert on_disk == tested


def test_registry_lists_every_format() -> None:
    assert set(PARSERS) == FORMATS
    assert set(METRICS) == FORMATS
    assert all(callable(parse) for parse in PARSERS.values())
    assert METRICS["junit"] == (
        "tests.total",
        "tests.failed",
        "tests.skipped",
        "tests.pass_percent",
    )


# --- notes and traps on the real files -------------------------------------------------------


def test_truncated_junit_fixture_is_rejected_not_counted() -> None:
    with pytest.raises(ReportError, match=r"junit: XML is not well-formed: no element found"):
        parse_report(fixture("junit/pytest-corrupt-xml.xml"), "junit")
    with pytest.raises(ReportError, match="not well-formed"):
        parse_report(fixture("junit/pytest-corrupt-xml.xml"))


def test_gcovr_doctype_is_read_without_fetching() -> None:
    # The DOCTYPE names http://cobertura.sourceforge.net/...; there is no network here, and a
    # fetch attempt would fail or hang: parsing at once proves it is not fetched.
    assert b"<!DOCTYPE" in fixture("cobertura/gcovr-8.0-gcc-8-cobertura.xml")
    started = time.perf_counter()
    parse_report(fixture("cobertura/gcovr-8.0-gcc-8-cobertura.xml"), "cobertura")
    assert time.perf_counter() - started < 1


def test_istanbul_header_disagreement_is_noted() -> None:
    report = parse_report(fixture("cobertura/istanbul-test-istanbul.xml"))
    assert "branches-valid=35" in notes_text(report)
    assert "16/16" in notes_text(report)


def test_pip_audit_skipped_dependency_is_named() -> None:
    report = parse_report(fixture("pip-audit/defectdojo-many_vulns_new.json"))
    assert "azure-devops" in notes_text(report)
    assert "7 vulnerabilities among the others" in notes_text(report)


def test_bandit_scan_error_is_named() -> None:
    report = parse_report(fixture("bandit/bandit-1.9.4-syntax-error.json"))
    assert "broken.py" in notes_text(report)


def test_k6_failed_threshold_is_named() -> None:
    report = parse_report(fixture("k6/summary-export-legacy-summary.json"))
    assert "http_req_duration p(95)<1000" in notes_text(report)
    assert "no checks metric" in notes_text(report)


def test_cargo_audit_null_cvss_is_noted() -> None:
    report = parse_report(fixture("cargo-audit/defectdojo-many_findings.json"))
    assert "counted as unknown severity" in notes_text(report)


# --- JUnit semantics ---------------------------------------------------------------------------


def junit(*cases: str, root: str = "testsuite") -> bytes:
    return f'<?xml version="1.0"?><{root}>{"".join(cases)}</{root}>'.encode()


def test_surefire_flaky_failure_counts_as_passed_with_a_note() -> None:
    # Surefire: a test that failed, then passed on rerun, keeps only <flakyFailure> children.
    data = junit(
        '<testcase classname="a.B" name="steady"/>',
        '<testcase classname="a.B" name="wobbly"><flakyFailure message="boom" type="E">'
        "<stackTrace>trace</stackTrace></flakyFailure><system-out>ok</system-out></testcase>",
        '<testcase classname="a.B" name="shaky"><flakyError message="x"/></testcase>',
    )
    report = parse_report(data, "junit")
    assert figures(report) == {
        "tests.total": "3",
        "tests.failed": "0",
        "tests.skipped": "0",
        "tests.pass_percent": "100.00",
    }
    assert "a.B.wobbly" in notes_text(report)
    assert "a.B.shaky" in notes_text(report)
    assert "flaky" in notes_text(report)


def test_surefire_rerun_failure_counts_as_failed() -> None:
    # Surefire: failed in every rerun = <failure> for the first run + <rerunFailure> per rerun.
    data = junit(
        '<testcase classname="a.B" name="ok"/>',
        '<testcase classname="a.B" name="broken"><failure message="1st"/>'
        '<rerunFailure message="2nd"/><rerunFailure message="3rd"/></testcase>',
        '<testcase classname="a.B" name="odd"><rerunError message="only rerun"/></testcase>',
    )
    assert figures(parse_report(data, "junit")) == {
        "tests.total": "3",
        "tests.failed": "2",
        "tests.skipped": "0",
        "tests.pass_percent": "33.33",
    }


def test_junit_nested_suites_and_errors_count_as_failed() -> None:
    data = junit(
        '<testsuite name="outer" tests="0"><testsuite name="inner">'
        '<testcase name="a"><error message="e"/></testcase>'
        '<testcase name="b"><skipped/></testcase>'
        '<testcase name="c"/></testsuite></testsuite>',
        root="testsuites",
    )
    assert figures(parse_report(data)) == {
        "tests.total": "3",
        "tests.failed": "1",
        "tests.skipped": "1",
        "tests.pass_percent": "50.00",
    }


def test_junit_without_test_cases_is_no_evidence() -> None:
    report = parse_report(junit(root="testsuites"), "junit")
    assert figures(report) == {
        "tests.total": "0",
        "tests.failed": None,
        "tests.skipped": None,
        "tests.pass_percent": None,
    }
    assert "no test cases" in notes_text(report)


def test_junit_all_skipped_has_no_pass_percent() -> None:
    report = parse_report(junit('<testcase name="a"><skipped/></testcase>'), "junit")
    assert report.metrics["tests.pass_percent"] is None
    assert report.metrics["tests.skipped"] == Decimal(1)
    assert "skipped" in notes_text(report)


def test_junit_wrong_root_is_refused() -> None:
    with pytest.raises(ReportError, match=r"root element is <html>"):
        parse_report(b"<html><body/></html>", "junit")


# --- coverage semantics ------------------------------------------------------------------------


def cobertura(body: str, **header: str) -> bytes:
    attrs = " ".join(f'{k.replace("_", "-")}="{v}"' for k, v in header.items())
    return f"<coverage {attrs}><packages>{body}</packages></coverage>".encode()


def test_cobertura_zero_valid_lines_is_no_evidence() -> None:
    report = parse_report(cobertura("", lines_valid="0", lines_covered="0"), "cobertura")
    assert report.metrics == {"coverage.line_percent": None}
    assert "0 valid lines" in notes_text(report)


def test_cobertura_without_lines_or_counters_is_no_evidence() -> None:
    report = parse_report(cobertura("", line_rate="1", branch_rate="1"), "cobertura")
    assert report.metrics == {"coverage.line_percent": None}
    assert "no line data" in notes_text(report)


def test_cobertura_header_counters_are_the_fallback() -> None:
    data = cobertura(
        "", lines_valid="8", lines_covered="6", branches_valid="4", branches_covered="1"
    )
    report = parse_report(data, "cobertura")
    assert figures(report) == {"coverage.line_percent": "75.00", "coverage.branch_percent": "25.00"}
    assert "root's counters" in notes_text(report)


def test_cobertura_same_line_in_two_classes_counts_once() -> None:
    line = '<line number="{n}" hits="{h}"/>'
    body = (
        '<class filename="a.py"><lines>'
        + line.format(n=1, h=0)
        + line.format(n=2, h=1)
        + "</lines></class>"
        '<class filename="a.py"><lines>' + line.format(n=1, h=3) + "</lines></class>"
    )
    assert figures(parse_report(cobertura(body))) == {"coverage.line_percent": "100.00"}


@pytest.mark.parametrize(
    "line",
    [
        '<line number="1" hits="many"/>',
        '<line number="1"/>',
        '<line number="1" hits="1" branch="true" condition-coverage="50%"/>',
        '<line number="1" hits="1" branch="true" condition-coverage="100% (3/2)"/>',
        '<line number="1" hits="' + "9" * 5000 + '"/>',
    ],
)
def test_cobertura_bad_line_attributes_are_refused(line: str) -> None:
    body = f'<class filename="a.py"><lines>{line}</lines></class>'
    with pytest.raises(ReportError, match="cobertura"):
        parse_report(cobertura(body), "cobertura")


def test_lcov_counters_are_the_fallback_and_sections_merge() -> None:
    data = (
        b"TN:\nSF:a.c\nDA:1,1\nDA:2,0\nBRDA:1,0,0,1\nBRDA:1,0,1,-\nend_of_record\n"
        b"SF:a.c\nDA:2,4\nBRDA:1,0,1,0\nend_of_record\n"
        b"SF:b.c\nLF:10\nLH:5\nBRF:2\nBRH:2\nend_of_record\n"
    )
    report = parse_report(data)
    # a.c: lines 1 and 2 both hit once merged; b.c: 5/10 from counters -> 7/12.
    assert figures(report) == {"coverage.line_percent": "58.33", "coverage.branch_percent": "75.00"}
    assert "LF/LH used" in notes_text(report)


def test_lcov_truncated_section_is_refused() -> None:
    with pytest.raises(ReportError, match="truncated"):
        parse_report(b"SF:a.c\nDA:1,1\nDA:2,1\n", "lcov")


def test_lcov_empty_is_no_evidence() -> None:
    report = parse_report(b"TN:\n", "lcov")
    assert report.metrics == {"coverage.line_percent": None}
    assert "no lines" in notes_text(report)


def test_coverage_json_zero_statements_is_no_evidence() -> None:
    doc = {
        "meta": {"branch_coverage": True},
        "files": {},
        "totals": {
            "covered_lines": 0,
            "num_statements": 0,
            "covered_branches": 0,
            "num_branches": 0,
        },
    }
    report = parse_json("coverage-json", doc)
    assert report.metrics == {"coverage.line_percent": None}
    assert "0 statements" in notes_text(report)


# --- SARIF semantics ---------------------------------------------------------------------------


def sarif_log(*runs: dict[str, Any]) -> dict[str, Any]:
    return {"version": "2.1.0", "runs": list(runs)}


def sarif_run(
    results: list[dict[str, Any]], rules: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    return {"tool": {"driver": {"name": "t", "rules": rules or []}}, "results": results, **extra}


def test_sarif_result_without_level_is_a_warning() -> None:
    rules = [{"id": "R1"}, {"id": "R2", "defaultConfiguration": {"level": "error"}}]
    results = [
        {"ruleId": "R1", "message": {"text": "no level, rule has no default"}},
        {"ruleId": "UNKNOWN", "message": {"text": "no rule at all"}},
        {"ruleIndex": 1, "message": {"text": "rule default error"}},
        {"ruleId": "R2", "level": "note", "message": {"text": "explicit level wins"}},
        {"ruleId": "R1", "level": "none", "message": {"text": "total only"}},
        {"ruleId": "R1", "kind": "pass", "message": {"text": "kind pass defaults to none"}},
    ]
    report = parse_json("sarif", sarif_log(sarif_run(results, rules)))
    assert figures(report) == {
        "findings.total": "6",
        "findings.error": "1",
        "findings.warning": "2",
        "findings.note": "1",
        **NO_SEVERITY,
    }


def test_sarif_security_severity_buckets() -> None:
    scores = ["9.8", "9.0", "7.5", "6.9", "4.0", "3.9", "0.1", "0.0"]
    rules = [{"id": f"S{i}", "properties": {"security-severity": s}} for i, s in enumerate(scores)]
    rules.append({"id": "Q", "properties": {"tags": ["maintainability"]}})
    results = [{"ruleIndex": i, "message": {"text": "x"}} for i in range(len(rules))]
    # A "pass" result is no problem: total only, even on a critical rule.
    results.append({"ruleIndex": 0, "kind": "pass", "message": {"text": "checked, fine"}})
    report = parse_json("sarif", sarif_log(sarif_run(results, rules)))
    assert figures(report) == {
        "findings.total": "10",
        "findings.error": "0",
        "findings.warning": "9",
        "findings.note": "0",
        "findings.critical": "2",
        "findings.high": "1",
        "findings.medium": "2",
        "findings.low": "2",
    }
    assert "1 of 9 results have no security-severity" in notes_text(report)


def test_sarif_rule_found_in_a_tool_extension() -> None:
    # CodeQL keeps query-pack rules in tool.extensions; rule.toolComponent.index points into
    # that array (not into [driver, *extensions]), and rule.index into that component's rules.
    driver_rules = [{"id": "other", "defaultConfiguration": {"level": "note"}}]
    run = sarif_run(
        [
            {"rule": {"id": "js/xss", "index": 1, "toolComponent": {"index": 1}}},
            {"ruleId": "js/sql-injection", "message": {"text": "found by id in an extension"}},
        ],
        driver_rules,
    )
    pack_rules = [
        {"id": "js/sql-injection", "properties": {"security-severity": "8.8"}},
        {
            "id": "js/xss",
            "defaultConfiguration": {"level": "error"},
            "properties": {"security-severity": "6.1"},
        },
    ]
    run["tool"]["extensions"] = [{"name": "other-pack"}, {"name": "js-pack", "rules": pack_rules}]
    report = parse_json("sarif", sarif_log(run))
    assert figures(report) == {
        "findings.total": "2",
        "findings.error": "1",
        "findings.warning": "1",
        "findings.note": "0",
        "findings.critical": "0",
        "findings.high": "1",
        "findings.medium": "1",
        "findings.low": "0",
    }


def test_sarif_without_runs_is_no_evidence() -> None:
    report = parse_json("sarif", sarif_log())
    assert set(report.metrics.values()) == {None}
    assert set(report.metrics) == set(METRICS["sarif"])
    assert report.notes == ("no runs: nothing was scanned",)


@pytest.mark.parametrize(
    "invocation",
    [
        {
            "executionSuccessful": False,
            "toolExecutionNotifications": [
                {"level": "error", "message": {"text": "could not build the database"}}
            ],
        },
        {
            "executionSuccessful": True,
            "toolExecutionNotifications": [
                {"level": "error", "message": {"text": "could not build the database"}}
            ],
        },
    ],
)
def test_sarif_failed_scan_is_no_evidence(invocation: dict[str, Any]) -> None:
    clean = sarif_run([])
    failed = sarif_run([], invocations=[invocation])
    report = parse_json("sarif", sarif_log(clean, failed))
    assert set(report.metrics.values()) == {None}
    assert report.notes == ("scan failed: could not build the database",)


def test_sarif_unsuccessful_without_message_is_no_evidence() -> None:
    report = parse_json(
        "sarif", sarif_log(sarif_run([], invocations=[{"executionSuccessful": False}]))
    )
    assert set(report.metrics.values()) == {None}
    assert "executionSuccessful: false" in notes_text(report)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "must be a JSON object"),
        ({"version": "2.1.0"}, "no 'runs'"),
        ({"version": "2.0.0", "runs": []}, "only SARIF 2.1.0"),
        ({"runs": []}, "only SARIF 2.1.0"),
        ({"version": "2.1.0", "runs": {}}, "must be a JSON array"),
        ({"version": "2.1.0", "runs": [[]]}, "each run must be a JSON object"),
        ({"version": "2.1.0", "runs": [{"results": []}]}, "run.tool must be a JSON object"),
        (sarif_log(sarif_run([{"level": "fatal"}])), "not one of error, warning, note, none"),
        (
            sarif_log(
                sarif_run(
                    [{"ruleIndex": 0}], [{"id": "R", "properties": {"security-severity": "high"}}]
                )
            ),
            "security-severity",
        ),
        (
            sarif_log(
                sarif_run(
                    [{"ruleIndex": 0}], [{"id": "R", "properties": {"security-severity": 11}}]
                )
            ),
            "not a score from 0 to 10",
        ),
    ],
)
def test_invalid_sarif_is_refused(doc: Any, message: str) -> None:
    with pytest.raises(ReportError, match=message):
        parse_json("sarif", doc)


# --- vulnerability scanners --------------------------------------------------------------------


def test_trivy_without_results_is_no_evidence() -> None:
    for doc in ({"SchemaVersion": 2, "ArtifactName": "."}, {"SchemaVersion": 2, "Results": []}, []):
        report = parse_json("trivy", doc)
        assert set(report.metrics.values()) == {None}
        assert "nothing to scan" in notes_text(report)


def test_trivy_null_vulnerabilities_is_clean() -> None:
    doc = {"SchemaVersion": 2, "Results": [{"Target": "x", "Vulnerabilities": None}]}
    assert parse_json("trivy", doc).metrics["vulnerabilities.total"] == 0


def test_trivy_wrong_schema_version_is_refused() -> None:
    with pytest.raises(ReportError, match="SchemaVersion 1 is not supported"):
        parse_json("trivy", {"SchemaVersion": 1, "Results": []})


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "9.8"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", "10"),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N", "6.4"),
        ("CVSS:3.0/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:N/A:N", "3.1"),
        ("CVSS:3.1/AV:L/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "6.2"),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", "0"),
    ],
)
def test_cvss3_base_score(vector: str, score: str) -> None:
    # Reference scores from the FIRST CVSS 3.1 calculator (cross-checked against the `cvss`
    # package for all 2,592 CVSS 3.1 base vectors while writing the scorer).
    assert cvss3_base_score(vector) == Decimal(score)


@pytest.mark.parametrize(
    "vector",
    [
        None,
        "",
        "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
        "CVSS:3.1/AV:N/AC:L",
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        7.5,
    ],
)
def test_cvss_without_a_v3_score_is_unknown(vector: Any) -> None:
    assert cvss3_base_score(vector) is None
    doc = {
        "vulnerabilities": {"list": [{"advisory": {"id": "X", "cvss": vector}}]},
        "warnings": {"yanked": [{}], "unsound": None},
    }
    report = parse_json("cargo-audit", doc)
    assert report.metrics["vulnerabilities.unknown"] == 1
    assert report.metrics["vulnerabilities.low"] == 0
    assert report.metrics["warnings.total"] == 1


def test_pip_audit_empty_is_no_evidence() -> None:
    for doc in ({"dependencies": [], "fixes": []}, []):
        report = parse_json("pip-audit", doc)
        assert report.metrics == {"vulnerabilities.total": None}
        assert "nothing was audited" in notes_text(report)


def test_pip_audit_counts_vulns_when_nothing_is_skipped() -> None:
    doc = {
        "dependencies": [
            {"name": "a", "version": "1", "vulns": [{"id": "PYSEC-1"}, {"id": "PYSEC-2"}]},
            {"name": "b", "version": "2", "vulns": []},
        ],
        "fixes": [],
    }
    assert figures(parse_json("pip-audit", doc)) == {"vulnerabilities.total": "2"}


def test_bandit_nothing_scanned_is_no_evidence() -> None:
    doc = {"errors": [], "generated_at": "x", "metrics": {"_totals": {"loc": 0}}, "results": []}
    report = parse_json("bandit", doc)
    assert set(report.metrics.values()) == {None}
    assert "no files were scanned" in notes_text(report)


# --- k6 semantics ------------------------------------------------------------------------------


def k6_summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {"root_group": {"name": "", "groups": [], "checks": []}, "metrics": metrics}


def test_k6_legacy_true_means_failed_and_false_means_passed() -> None:
    doc = k6_summary(
        {
            "http_reqs": {"count": 10, "rate": 1},
            "http_req_duration": {"avg": 5, "p(95)": 9, "thresholds": {"p(95)<5": True}},
            "http_req_failed": {
                "passes": 0,
                "fails": 10,
                "value": 0,
                "thresholds": {"rate<0.1": False},
            },
            "checks": {"passes": 10, "fails": 0, "value": 1, "thresholds": {"rate>0.9": False}},
        }
    )
    report = parse_json("k6", doc)
    assert figures(report) == {
        "http_req_duration.p95_ms": "9.00",
        "http_req_failed.percent": "0.00",
        "checks.pass_percent": "100.00",
        "thresholds.failed": "1",
    }


def test_k6_handle_summary_ok_false_means_failed() -> None:
    doc = k6_summary(
        {
            "http_reqs": {"type": "counter", "values": {"count": 3, "rate": 1}},
            "http_req_duration": {
                "type": "trend",
                "values": {"p(95)": 1200.001, "p(99)": 1500},
                "thresholds": {"p(95)<1000": {"ok": False}},
            },
            "http_req_failed": {"type": "rate", "values": {"rate": 0.25, "passes": 1, "fails": 3}},
        }
    )
    report = parse_json("k6", doc)
    assert figures(report) == {
        "http_req_duration.p95_ms": "1200.01",  # latencies round up
        "http_req_duration.p99_ms": "1500.00",
        "http_req_failed.percent": "25.00",
        "checks.pass_percent": None,
        "thresholds.failed": "1",
    }


def test_k6_threshold_over_a_metric_without_samples_is_no_evidence() -> None:
    # k6 >= 0.38 shows a threshold over an empty metric as passed; an empty trend as zeros.
    doc = k6_summary(
        {
            "http_reqs": {"type": "counter", "values": {"count": 0, "rate": 0}},
            "http_req_duration": {
                "type": "trend",
                "values": {"avg": 0, "min": 0, "med": 0, "max": 0, "p(90)": 0, "p(95)": 0},
                "thresholds": {"p(95)<500": {"ok": True}},
            },
            "http_req_failed": {
                "type": "rate",
                "values": {"rate": 0, "passes": 0, "fails": 0},
                "thresholds": {"rate<0.01": {"ok": True}},
            },
            "errors": {
                "type": "counter",
                "values": {"count": 0, "rate": 0},
                "thresholds": {"count<10": {"ok": True}},
            },
        }
    )
    report = parse_json("k6", doc)
    assert figures(report) == {
        "http_req_duration.p95_ms": None,
        "http_req_failed.percent": None,
        "checks.pass_percent": None,
        "thresholds.failed": None,
    }
    text = notes_text(report)
    assert "http_req_duration p(95)<500" in text
    assert "http_req_failed rate<0.01" in text
    assert "errors count<10" not in text  # a Counter's 0 is a real count


def test_k6_counter_threshold_at_zero_is_evaluated() -> None:
    doc = k6_summary(
        {
            "errors": {
                "type": "counter",
                "values": {"count": 0, "rate": 0},
                "thresholds": {"count<10": {"ok": True}},
            }
        }
    )
    report = parse_json("k6", doc)
    assert report.metrics["thresholds.failed"] == 0
    assert report.metrics["http_req_duration.p95_ms"] is None


def test_k6_without_thresholds_is_no_evidence_for_them() -> None:
    doc = k6_summary(
        {
            "http_reqs": {"count": 1, "rate": 1},
            "http_req_duration": {"avg": 1, "p(90)": 1, "med": 1},
        }
    )
    report = parse_json("k6", doc)
    assert report.metrics["thresholds.failed"] is None
    assert report.metrics["http_req_duration.p95_ms"] is None
    assert "summaryTrendStats" in notes_text(report)
    assert "no thresholds defined" in notes_text(report)


@pytest.mark.parametrize(
    "doc",
    [
        k6_summary({"m": {"avg": 1, "thresholds": {"avg<2": "yes"}}}),
        k6_summary({"m": {"type": "trend", "values": {"avg": 1}, "thresholds": {"avg<2": True}}}),
        k6_summary({"checks": {"type": "rate", "values": {"rate": 2}}}),
        k6_summary([]),
        {"root_group": {}},
    ],
)
def test_k6_malformed_is_refused(doc: Any) -> None:
    with pytest.raises(ReportError, match="k6"):
        parse_json("k6", doc)


# --- mutation semantics ------------------------------------------------------------------------


def mutation_report(*statuses: str, **extra: Any) -> dict[str, Any]:
    mutants = [{"id": str(i), "status": s, "mutatorName": "m"} for i, s in enumerate(statuses)]
    return {
        "schemaVersion": "1",
        "thresholds": {"high": 80, "low": 60},
        "files": {"a.js": {"language": "javascript", "source": "", "mutants": mutants}},
        **extra,
    }


def test_mutation_score_is_computed_not_trusted() -> None:
    doc = mutation_report(
        "Killed",
        "Timeout",
        "Survived",
        "NoCoverage",
        "CompileError",
        "RuntimeError",
        "Ignored",
        mutationScore=100,
    )
    assert figures(parse_json("mutation", doc)) == {"mutation.score_percent": "50.00"}


@pytest.mark.parametrize(
    ("statuses", "note"),
    [
        ((), "no valid mutants"),
        (("CompileError", "Ignored"), "no valid mutants"),
        (("Killed", "Pending"), "still Pending"),
    ],
)
def test_mutation_without_valid_mutants_is_no_evidence(
    statuses: tuple[str, ...], note: str
) -> None:
    report = parse_json("mutation", mutation_report(*statuses))
    assert report.metrics == {"mutation.score_percent": None}
    assert note in notes_text(report)


def test_mutation_unknown_status_is_refused() -> None:
    with pytest.raises(ReportError, match="unknown mutant status 'Dead'"):
        parse_json("mutation", mutation_report("Killed", "Dead"))


def test_infection_json_log_counts_uncovered_even_in_only_covered_mode() -> None:
    def rows(n: int) -> list[dict[str, Any]]:
        return [{"mutator": {"mutatorName": "m"}, "diff": "", "processOutput": ""}] * n

    doc = {
        "stats": {"totalMutantsCount": 10, "killedCount": 5, "notCoveredCount": 3, "msi": 99},
        "escaped": rows(1),
        "timeouted": rows(1),
        "killed": rows(5),
        "errored": [],
        "syntaxErrors": [],
        "uncovered": [],
        "ignored": [],
    }
    assert detect_format(json.dumps(doc).encode()) == "mutation"
    assert figures(parse_json("mutation", doc)) == {"mutation.score_percent": "60.00"}


# --- shared helpers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        (1, 3, "33.33"),
        (2, 3, "66.67"),
        (1, 8, "12.50"),
        (99_999, 100_000, "99.99"),  # never rounds up to a full pass
        (1, 100_000, "0.01"),  # never rounds down to "none failed"
        (5, 5, "100.00"),
        (0, 5, "0.00"),
    ],
)
def test_percent_rounding(part: int, whole: int, expected: str) -> None:
    assert str(percent(part, whole)) == expected


def test_percent_of_nothing_is_none() -> None:
    assert percent(0, 0) is None


# --- format detection and dispatch -------------------------------------------------------------


def test_unknown_format_name_lists_the_known_ones() -> None:
    with pytest.raises(UnknownFormat, match="unknown report format 'nunit'") as caught:
        parse_report(b"<x/>", "nunit")
    assert "junit" in str(caught.value)
    assert "mutation" in str(caught.value)
    assert isinstance(caught.value, ReportError)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"   \n",
        b"hello world",
        b"<html><body/></html>",
        b'{"status": "success", "data": {"resultType": "matrix", "result": []}}',
        b"[]",
        b"[1, 2]",
        b'"just a string"',
        b"42",
    ],
)
def test_undetectable_input_asks_for_the_format(data: bytes) -> None:
    with pytest.raises(
        UnknownFormat, match=r"^cannot detect the report format; name it with format"
    ):
        detect_format(data)
    with pytest.raises(UnknownFormat):
        parse_report(data)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"<testsuites/>", "junit"),
        (b'<?xml version="1.0"?>\n<testsuite name="x"/>', "junit"),
        (b"\xef\xbb\xbf<coverage/>", "cobertura"),
        (b"TN:\nSF:a.c\nend_of_record\n", "lcov"),
        (b"\nSF:a.c\nDA:1,1\nend_of_record\n", "lcov"),
        (b'[{"Target": "x", "Vulnerabilities": null}]', "trivy"),
        (b'[{"name": "x", "version": "1", "vulns": []}]', "pip-audit"),
        (b'{"dependencies": [], "fixes": []}', "pip-audit"),
    ],
)
def test_detection_by_structure(data: bytes, fmt: str) -> None:
    assert detect_format(data) == fmt


def test_parse_report_rejects_text() -> None:
    with pytest.raises(TypeError):
        parse_report("<testsuites/>")  # type: ignore[arg-type]
    assert parse_report(bytearray(b"<testsuites/>")).format == "junit"


# --- hostile and corrupt input -----------------------------------------------------------------

XML_FORMATS = ("junit", "cobertura")
JSON_FORMATS = (
    "coverage-json",
    "sarif",
    "trivy",
    "cargo-audit",
    "pip-audit",
    "bandit",
    "k6",
    "mutation",
)

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><testsuite><testcase name="&lol9;"/></testsuite>'
)
QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]><testsuite>'
    + b"&a;" * 50_000
    + b"</testsuite>"
)
EXTERNAL_FILE_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<testsuite><testcase name="&xxe;"/></testsuite>'
)

XML_HOSTILE = [
    pytest.param(BILLION_LAUGHS, "entity declarations are not allowed", id="billion-laughs"),
    pytest.param(QUADRATIC_BLOWUP, "entity declarations are not allowed", id="quadratic-blowup"),
    pytest.param(EXTERNAL_FILE_ENTITY, "entity declarations are not allowed", id="xxe-file"),
    pytest.param(b'<testsuite><testcase name="a">', "not well-formed", id="truncated"),
    pytest.param(b"<testsuite><testcase></testsuite>", "not well-formed", id="mismatched-tag"),
    pytest.param(b"<testsuite>\x00</testsuite>", "not well-formed", id="nul-byte"),
    pytest.param(b'<testsuite a="1" a="2"/>', "not well-formed", id="duplicate-attribute"),
    pytest.param(b"<testsuite>" + b"<a>" * 100_000, "not well-formed", id="deep-truncated"),
]


def assert_fast_report_error(call: Callable[[], object], message: str) -> None:
    """Refused, and not after expanding it: an input that is parsed before it is refused takes
    minutes or all the memory (a billion laughs). The bound catches that, not a slow machine
    (100,000 nested elements take 0.2 s alone here, and took 1.15 s once in a loaded suite)."""
    started = time.perf_counter()
    with pytest.raises(ReportError, match=message):
        call()
    assert time.perf_counter() - started < 5, "hostile input must be refused before it is expanded"


@pytest.mark.parametrize("fmt", [*XML_FORMATS, None])
@pytest.mark.parametrize(("data", "message"), XML_HOSTILE)
def test_hostile_xml_is_refused(fmt: str | None, data: bytes, message: str) -> None:
    assert_fast_report_error(lambda: parse_report(data, fmt), message)


@pytest.mark.parametrize("fmt", XML_FORMATS)
@pytest.mark.parametrize("data", [b"", b"hello", b"{}", b"\xff\xfe<\x00a\x00"])
def test_non_xml_is_refused(fmt: str, data: bytes) -> None:
    assert_fast_report_error(lambda: parse_report(data, fmt), f"^{fmt}: XML is not well-formed")


def test_xml_error_message_gives_the_position() -> None:
    data = b'<?xml version="1.0"?>\n<testsuite>\n  <testcase name="a">\n    <failure'
    with pytest.raises(ReportError, match=r"^junit: XML is not well-formed: .*line 4, column"):
        parse_report(data, "junit")


DEEP_ARRAY = b"[" * 200_000 + b"]" * 200_000
DEEP_OBJECT = b'{"a":' * 100_000 + b"1" + b"}" * 100_000

JSON_HOSTILE = [
    pytest.param(b"{not json", "not JSON", id="not-json"),
    pytest.param(b"", "not JSON", id="empty"),
    pytest.param(b'{"runs": [', "not JSON", id="truncated"),
    pytest.param(
        b'\xef\xbb\xbf{"version": "2.1.0", "runs": []}',
        "the file starts with a UTF-8 byte order mark",
        id="bom",
    ),
    pytest.param(DEEP_ARRAY, "not JSON: nested too deeply", id="deep-array"),
    pytest.param(DEEP_OBJECT, "not JSON: nested too deeply", id="deep-object"),
    pytest.param(b'{"count": ' + b"9" * 100_000 + b"}", "not JSON: .*digits", id="huge-int"),
    pytest.param(b'{"rate": NaN}', "not JSON: NaN is not valid JSON", id="nan"),
    pytest.param(b'{"rate": -Infinity}', "not JSON: -Infinity is not valid JSON", id="infinity"),
    pytest.param(b'{"a": "\xff\xfe"}', "not UTF-8", id="not-utf8"),
    pytest.param('{"a": 1}'.encode("utf-16"), "not UTF-8", id="utf16"),
]


@pytest.mark.parametrize("fmt", JSON_FORMATS)
@pytest.mark.parametrize(("data", "message"), JSON_HOSTILE)
def test_hostile_json_is_refused(fmt: str, data: bytes, message: str) -> None:
    assert_fast_report_error(lambda: parse_report(data, fmt), f"^{fmt}: {message}")


@pytest.mark.parametrize(("data", "message"), JSON_HOSTILE[2:9])
def test_hostile_json_is_refused_during_detection(data: bytes, message: str) -> None:
    assert_fast_report_error(lambda: parse_report(data), message)


def test_detection_of_hostile_xml_is_refused_fast() -> None:
    assert_fast_report_error(lambda: detect_format(BILLION_LAUGHS), "entity declarations")
    assert_fast_report_error(lambda: detect_format(QUADRATIC_BLOWUP), "entity declarations")


WRONG_SHAPES = [
    None,
    0,
    1.5,
    "x",
    True,
    [],
    {},
    [None],
    [1],
    ["x"],
    [[]],
    {"a": 1},
    {"files": 1},
    {"metrics": []},
    {"runs": None, "version": "2.1.0"},
    {"Results": 1, "SchemaVersion": 2},
    {"dependencies": {}},
    {"results": {}},
    {"vulnerabilities": []},
    {"totals": []},
    {"stats": [], "escaped": []},
]


@pytest.mark.parametrize("fmt", JSON_FORMATS)
@pytest.mark.parametrize("doc", WRONG_SHAPES, ids=[json.dumps(d)[:30] for d in WRONG_SHAPES])
def test_wrong_json_shape_never_escapes_as_another_exception(fmt: str, doc: Any) -> None:
    try:
        report = parse_json(fmt, doc)
    except ReportError:
        return
    # A few shapes are legitimate "nothing here" reports; they must not claim evidence.
    assert all(v is None for v in report.metrics.values()), report


FUZZ_VALUES: list[Any] = [None, [], {}, "x", -1, 1.5, True, 10**40, [None], {"x": None}]


def json_paths(doc: Any, limit: int, depth: int = 5) -> list[tuple[Any, ...]]:
    """Breadth-first paths to nodes of ``doc`` (list items: only the first two)."""
    paths: list[tuple[Any, ...]] = []
    queue: list[tuple[tuple[Any, ...], Any]] = [((), doc)]
    while queue and len(paths) < limit:
        path, node = queue.pop(0)
        if path:
            paths.append(path)
        if len(path) >= depth:
            continue
        if isinstance(node, dict):
            queue.extend(((*path, k), v) for k, v in node.items())
        elif isinstance(node, list):
            queue.extend(((*path, i), v) for i, v in enumerate(node[:2]))
    return paths


def replaced(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    clone = copy.deepcopy(doc)
    node = clone
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return clone


JSON_FIXTURES = [c[:2] for c in GOLDEN if c[1] in JSON_FORMATS]


@pytest.mark.parametrize(("path", "fmt"), JSON_FIXTURES, ids=[c[0] for c in JSON_FIXTURES])
def test_corrupted_json_fixtures_fail_only_with_report_error(path: str, fmt: str) -> None:
    # Replace each of the first nodes of a real report by a value of another type: the parser
    # may cope or refuse, but only ever with ReportError.
    doc = json.loads(fixture(path))
    for node_path in json_paths(doc, limit=120):
        for value in FUZZ_VALUES:
            data = json.dumps(replaced(doc, node_path, value)).encode()
            with contextlib.suppress(ReportError):
                parse_report(data, fmt)


XML_FIXTURES = [c[:2] for c in GOLDEN if c[1] in XML_FORMATS]


@pytest.mark.parametrize(("path", "fmt"), XML_FIXTURES, ids=[c[0] for c in XML_FIXTURES])
def test_corrupted_xml_attributes_fail_only_with_report_error(path: str, fmt: str) -> None:
    text = fixture(path).decode("utf-8")
    attributes = sorted(set(re.findall(r'\s([\w-]+)="[^"]*"', text)))
    for name in attributes:
        for value in ("", "x", "-1", "1.5", "(1/0)", "9" * 50):
            data = re.sub(rf'(\s{name}=)"[^"]*"', rf'\1"{value}"', text).encode()
            with contextlib.suppress(ReportError):
                parse_report(data, fmt)


TEXT_FIXTURES = [c[:2] for c in GOLDEN if c[1] != "lcov"]


@pytest.mark.parametrize(("path", "fmt"), TEXT_FIXTURES, ids=[c[0] for c in TEXT_FIXTURES])
def test_truncated_fixtures_are_refused(path: str, fmt: str) -> None:
    # A cut-off upload must never be read as a (smaller) report.
    data = fixture(path).rstrip()
    for cut in range(1, len(data), max(1, len(data) // 97)):
        with pytest.raises(ReportError):
            parse_report(data[:cut], fmt)


def test_truncated_lcov_is_refused_unless_cut_between_sections() -> None:
    data = fixture("lcov/coveragepy-7.17.4-branch.lcov")
    for cut in range(1, len(data) - len(b"end_of_record\n")):
        with pytest.raises(ReportError):
            parse_report(data[:cut], "lcov")


# --- no network: an external DTD or entity at a loopback listener is never fetched ----------


@pytest.fixture
def loopback_listener() -> Iterator[tuple[int, list[str]]]:
    """A TCP listener on 127.0.0.1 that records every connection made to it."""
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.05)
    seen: list[str] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, peer = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            seen.append(f"{peer[0]}:{peer[1]}")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], seen
    finally:
        stop.set()
        thread.join(timeout=2)
        server.close()


def probe_listener(port: int, seen: list[str]) -> None:
    """Prove the listener works (so "no connection" means something), then forget the probe."""
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    deadline = time.monotonic() + 2
    while not seen and time.monotonic() < deadline:
        time.sleep(0.01)
    assert seen, "the loopback listener did not see the probe connection"
    seen.clear()


def assert_no_connection(seen: list[str]) -> None:
    time.sleep(0.2)  # give a (wrongly) started fetch time to connect
    assert seen == []


@pytest.mark.parametrize("fmt", [*XML_FORMATS, None])
def test_external_dtd_at_loopback_is_not_fetched(
    fmt: str | None, loopback_listener: tuple[int, list[str]]
) -> None:
    port, seen = loopback_listener
    probe_listener(port, seen)
    root = "coverage" if fmt == "cobertura" else "testsuite"
    body = (
        '<coverage lines-valid="2" lines-covered="1"/>'
        if root == "coverage"
        else '<testsuite><testcase name="a"/></testsuite>'
    )
    # Like gcovr's DOCTYPE: allowed, but never fetched.
    data = f'<?xml version="1.0"?><!DOCTYPE {root} SYSTEM "http://127.0.0.1:{port}/r.dtd">{body}'
    report = parse_report(data.encode(), fmt)
    assert next(iter(report.metrics.values())) is not None
    assert_no_connection(seen)


@pytest.mark.parametrize("fmt", [*XML_FORMATS, None])
@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE testsuite [<!ENTITY % remote SYSTEM "http://127.0.0.1:{port}/p.dtd"> %remote;]>',
        '<!DOCTYPE testsuite [<!ENTITY ext SYSTEM "http://127.0.0.1:{port}/e.xml">]>',
        '<!DOCTYPE testsuite PUBLIC "-//x//y" "http://127.0.0.1:{port}/d.dtd" [<!ENTITY a "b">]>',
    ],
    ids=["parameter-entity", "external-entity", "public-dtd-with-entity"],
)
def test_external_entity_at_loopback_is_refused_without_connecting(
    fmt: str | None, doctype: str, loopback_listener: tuple[int, list[str]]
) -> None:
    port, seen = loopback_listener
    probe_listener(port, seen)
    data = f'<?xml version="1.0"?>{doctype.format(port=port)}<testsuite>&ext;</testsuite>'
    assert_fast_report_error(lambda: parse_report(data.encode(), fmt), "not allowed")
    assert_no_connection(seen)
