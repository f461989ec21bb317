"""RELIABILITY cases 21 and 22: values no column holds, hostile readings in a batch, and errors
that the flapping guard must not hide."""

import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction
from django.db.models import Max
from django.db.transaction import TransactionManagementError

from apps.gates.models import Gate, GateStatus, Measurement
from apps.gates.services import (
    Evaluation,
    IngestError,
    Reading,
    evaluate_gate,
    ingest_report,
    record_reading,
    record_readings,
)
from apps.specs.services import import_launch_spec
from portal.postgresql.compiler import UNNEST_FROM
from tests.helpers import ROOT, manual_gates, to_yaml

pytestmark = pytest.mark.django_db

HUGE = ["1e25", "1e400", "-1e30", "1234567890123456789012345678901234567890"]


@pytest.fixture
def launch(spec):
    spec["sources"] = []
    spec["gates"][0] = {
        "key": "availability", "name": "Availability", "category": "slo",
        "dimension": "technical", "blocking": True, "source": "prometheus",
        "query": 'availability_percent{service="api"}', "comparator": ">=", "threshold": 99.9,
        "unit": "%", "for": 3,
    }  # fmt: skip
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _gate(key: str) -> Gate:
    return Gate.objects.get(key=key)


@pytest.mark.parametrize("text", HUGE)
def test_a_value_the_column_cannot_hold_is_unknown_out_of_range_and_never_stored(launch, text):
    measurement = record_reading(gate=_gate("coverage"), reading=Reading(value=Decimal(text)),
                                 actor="test")  # fmt: skip

    stored = Measurement.objects.get(pk=measurement.pk)
    assert stored.status == GateStatus.UNKNOWN
    assert stored.reason.startswith("out of range")
    assert stored.value is None
    assert stored.source_detail["value_read"] == str(Decimal(text))[:60]
    assert _gate("coverage").current_status()[0] == GateStatus.UNKNOWN


BRIEF = ("/launches/atlas/",)  # the overview shows no values


def test_a_value_just_inside_the_limit_is_judged_and_shown(launch, admin_client):
    big = Decimal("999999999999999999999999.123456")
    measurement = record_reading(gate=_gate("coverage"), reading=Reading(value=big), actor="t")

    # SQLite's REAL keeps 15 digits: the value is kept exactly on both databases.
    assert Measurement.objects.get(pk=measurement.pk).value == big
    assert _gate("coverage").latest_value == big
    assert Measurement.objects.filter(gate__key="coverage").aggregate(Max("value")) == {
        "value__max": big
    }
    assert measurement.status == GateStatus.PASSING
    for url in ("/launches/atlas/", "/launches/atlas/gates/", "/launches/atlas/gates/coverage/",
                "/api/v1/launches/atlas/gates/coverage/measurements/"):  # fmt: skip
        response = admin_client.get(url)
        assert response.status_code == 200, url
        assert "999999999999999999999999.12" in response.content.decode() or url in BRIEF


@pytest.mark.parametrize("text", ["1e25", "1e400", "-1e30"])
def test_a_prometheus_answer_out_of_range_is_unknown_and_every_page_still_answers(
    launch, fake_prometheus, settings, admin_client, text, tmp_path
):
    settings.PROMETHEUS_URL = fake_prometheus.url
    fake_prometheus.answer_success("vector", [{"metric": {}, "value": [1.0, text]}])

    evaluate_gate(gate=_gate("availability"))

    gate = _gate("availability")
    assert gate.current_status()[0] == GateStatus.UNKNOWN
    assert "out of range" in gate.current_status()[1]
    for url in (
        "/launches/atlas/",
        "/launches/atlas/gates/",
        "/launches/atlas/gates/availability/",
        "/api/v1/launches/atlas/gates/",
        "/api/v1/launches/atlas/gates/availability/measurements/",
        "/launches/atlas/signoffs/",
    ):
        assert admin_client.get(url).status_code == 200, url
    out = io.StringIO()
    call_command("evaluate_gates", "--launch", "atlas", "--json", stdout=out)
    rows = {row["key"]: row for row in json.loads(out.getvalue())}
    assert rows["availability"]["status"] == "unknown"
    call_command("export_evidence", "atlas", "--out", str(tmp_path / "export.zip"), stdout=out)
    assert (tmp_path / "export.zip").stat().st_size > 0


@pytest.mark.parametrize("text", [b"1e30", b"-1e25", b"1" * 40])
def test_a_report_figure_out_of_range_is_refused_and_changes_nothing(spec, text):
    # A report parser refuses an implausible figure (>= 1e18) with the reason (RELIABILITY case 3):
    # the upload is a 400, nothing is stored, and the gate keeps what it had.
    spec["sources"] = []
    spec["gates"][0] = {
        "key": "latency", "name": "p99 latency", "category": "slo", "dimension": "technical",
        "blocking": True, "source": "report", "format": "k6",
        "metric": "http_req_duration.p99_ms", "comparator": "<", "threshold": 100, "unit": "ms",
    }  # fmt: skip
    launch = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    report = ROOT / "tests/fixtures/reports/k6/k6-reporter-handleSummary-test-data.json"
    data = report.read_bytes().replace(b'"p(99)": 39.577136380000084', b'"p(99)": ' + text)
    assert data != report.read_bytes()

    with pytest.raises(IngestError) as refused:
        ingest_report(launch=launch, data=data, format="k6", gate_key="latency",
                      name="summary.json", actor="ci")  # fmt: skip

    assert refused.value.status == 400
    assert "out of range" in refused.value.message
    assert not Measurement.objects.filter(gate__key="latency").exists()


@pytest.mark.parametrize("others", [0, UNNEST_FROM], ids=["values", "arrays"])
def test_one_hostile_reading_does_not_take_its_batch_down(launch, others):
    """In a batch sent as VALUES and in one sent as arrays (portal/postgresql/compiler.py)."""
    coverage, availability = _gate("coverage"), _gate("availability")
    hostile = Reading(value=Decimal("90"), detail={"label": "\x00", "bad": Decimal("1")})
    evaluations = [
        Evaluation(coverage, hostile),
        Evaluation(availability, Reading(value=Decimal("99.95"))),
        *(Evaluation(gate, Reading(value=Decimal(1))) for gate in manual_gates(launch, others)),
    ]

    results = record_readings(evaluations, actor="test")

    assert len(results) == len(evaluations)
    assert Measurement.objects.count() == len(evaluations)
    stored = {m.gate.key: Measurement.objects.get(pk=m.pk) for m in results}
    assert stored["availability"].status == GateStatus.PASSING
    assert stored["availability"].value == Decimal("99.95")
    assert stored["coverage"].status == GateStatus.UNKNOWN
    assert "could not be recorded" in stored["coverage"].reason
    assert _gate("coverage").state == GateStatus.UNKNOWN


def test_a_caller_that_catches_a_failed_batch_keeps_nothing_of_it(launch, monkeypatch):
    """record_readings() takes no savepoint of its own in a caller's transaction: a failure after
    its measurements were inserted marks the caller's transaction for rollback, so a caller
    that catches it cannot go on and commit half a batch."""
    from apps.gates import services

    def broken(slugs):
        raise DatabaseError("the audit chain lock failed")

    monkeypatch.setattr(services, "lock_chains", broken)  # runs after the inserts
    coverage = _gate("coverage")
    with transaction.atomic():
        with pytest.raises(DatabaseError):
            record_reading(gate=coverage, reading=Reading(value=Decimal(90)), actor="test")
        with pytest.raises(TransactionManagementError):
            Measurement.objects.count()

    assert not Measurement.objects.filter(gate=coverage).exists()
    assert _gate("coverage").state == GateStatus.PENDING


def test_nul_characters_in_a_reason_are_cleaned_not_fatal(launch):
    reading = Reading(error="error\x00 from the source", detail={"x\x00": ["a\x00b"]})

    measurement = record_reading(gate=_gate("coverage"), reading=reading, actor="test")

    stored = Measurement.objects.get(pk=measurement.pk)
    assert (stored.status, stored.reason) == (GateStatus.UNKNOWN, "error from the source")
    assert stored.source_detail == {"x": ["ab"]}


# --- case 22: errors beat the flapping guard ---------------------------------------------------


def _read(gate, value=None, error=""):
    value = None if value is None else Decimal(value)
    record_reading(gate=gate, reading=Reading(value=value, error=error), actor="test")
    gate.refresh_from_db()
    return gate.current_status()[0]


def test_with_for_3_the_first_failed_reading_makes_a_passing_gate_unknown(launch):
    gate = _gate("availability")
    assert gate.for_count == 3
    assert _read(gate, "99.95") == GateStatus.PASSING

    assert _read(gate, error="connection refused") == GateStatus.UNKNOWN
    assert gate.state_reason == "connection refused"


def test_after_an_error_a_verdict_still_needs_its_run_of_agreeing_readings(launch):
    gate = _gate("availability")
    _read(gate, "90")  # failing, taken at once (first reading)
    _read(gate, error="timed out")
    # One good answer after an error is not enough to pass a for: 3 gate.
    assert _read(gate, "99.95") == GateStatus.UNKNOWN
    assert _read(gate, "99.95") == GateStatus.UNKNOWN
    assert _read(gate, "99.95") == GateStatus.PASSING


def test_real_verdicts_still_wait_for_the_guard(launch):
    gate = _gate("availability")
    _read(gate, "99.95")
    assert _read(gate, "90") == GateStatus.PASSING
    assert _read(gate, "90") == GateStatus.PASSING
    assert _read(gate, "90") == GateStatus.FAILING


def test_prometheus_warnings_make_a_guarded_passing_gate_unknown_at_once(
    launch, fake_prometheus, settings
):
    settings.PROMETHEUS_URL = fake_prometheus.url
    fake_prometheus.answer_success("vector", [{"metric": {}, "value": [1.0, "99.95"]}])
    evaluate_gate(gate=_gate("availability"))
    assert _gate("availability").current_status()[0] == GateStatus.PASSING

    fake_prometheus.answer_success(
        "vector", [{"metric": {}, "value": [1.0, "99.95"]}],
        warnings=["encountered a mix of histograms and floats"],
    )  # fmt: skip
    evaluate_gate(gate=_gate("availability"))

    status, reason = _gate("availability").current_status()
    assert status == GateStatus.UNKNOWN
    assert "warnings" in reason.lower() and "mix of histograms" in reason
