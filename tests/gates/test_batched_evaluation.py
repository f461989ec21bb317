"""Polled Prometheus gates are evaluated in batches: per gate the same story as one by one."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.models import Gate, Measurement, StatusChange
from apps.gates.services import Evaluation, Reading, record_readings
from apps.gates.tasks import EVAL_BATCH, evaluate_gates
from portal.postgresql.compiler import UNNEST_FROM
from tests.helpers import import_report_only_launch, probe_gates

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(spec):
    return import_report_only_launch(spec)


def _vector(value: str) -> dict:
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [{"metric": {}, "value": [1_700_000_000, value]}],
        },
    }


def test_a_batch_measures_each_gate_once_and_a_redelivered_batch_reads_nothing_again(
    launch, fake_prometheus, settings
):
    settings.PROMETHEUS_URL = fake_prometheus.url
    fake_prometheus.answer(_vector("1"))
    gates = probe_gates(launch, EVAL_BATCH)
    slot = timezone.now().replace(microsecond=0).isoformat()
    batch = [[gate.pk, slot] for gate in gates]

    assert evaluate_gates.run(batch) == EVAL_BATCH
    assert evaluate_gates.run(batch) == 0  # redelivered: every slot is measured already

    assert fake_prometheus.request_count == EVAL_BATCH
    assert Measurement.objects.filter(gate__in=gates).count() == EVAL_BATCH
    assert Measurement.objects.filter(gate__in=gates, status="passing").count() == EVAL_BATCH
    changes = AuditEvent.objects.filter(
        action="gate.status_changed", object_key__startswith="probe-"
    )
    assert changes.count() == EVAL_BATCH  # pending -> passing, once per gate


def test_in_a_batch_the_flapping_guard_and_status_changes_hold_per_gate(launch):
    guarded, plain = probe_gates(launch, 2, guarded_first=True)  # probe-0 waits for 2 readings
    now = timezone.now()

    def both(value: str) -> None:
        record_readings(
            [
                Evaluation(g, Reading(value=Decimal(value)), at=now)
                for g in Gate.objects.filter(pk__in=[guarded.pk, plain.pk])
            ],
            actor="test",
        )

    both("1")  # pending -> passing at once, for both
    both("0")  # plain fails at once; guarded waits
    guarded.refresh_from_db()
    plain.refresh_from_db()
    assert (guarded.state, guarded.streak_count, plain.state) == ("passing", 1, "failing")
    both("0")
    guarded.refresh_from_db()
    assert guarded.state == "failing"
    assert list(
        StatusChange.objects.filter(gate=guarded).values_list("to_status", flat=True).order_by("id")
    ) == ["passing", "failing"]
    assert StatusChange.objects.filter(gate=plain).count() == 2


def test_a_gate_twice_in_one_batch_is_refused_with_nothing_stored(launch):
    (gate,) = probe_gates(launch, 1)
    reading = Evaluation(gate, Reading(value=Decimal(1)))
    with pytest.raises(ValueError, match="twice"):
        record_readings([reading, Evaluation(gate, Reading(value=Decimal(0)))], actor="test")
    assert not Measurement.objects.filter(gate=gate).exists()


@pytest.mark.parametrize("size", [2, UNNEST_FROM - 1, UNNEST_FROM])
def test_a_batch_is_sent_as_arrays_from_unnest_from_gates_and_as_values_below(launch, size):
    """Arrays cost more than they save for a few rows (portal/postgresql/compiler.py): a report
    ingest's one or two gates go as VALUES, a poll's batch as arrays; both write the same."""
    gates = probe_gates(launch, size)
    batch = [Evaluation(gate, Reading(value=Decimal(i))) for i, gate in enumerate(gates)]
    with CaptureQueriesContext(connection) as captured:
        record_readings(batch, actor="test")

    tables = (Measurement._meta.db_table, Gate._meta.db_table)
    inserts = [q["sql"] for q in captured.captured_queries
               if q["sql"].startswith("INSERT") and q["sql"].split('"')[1] in tables]  # fmt: skip
    assert len(inserts) == 2  # the measurements, the gates' state
    arrays = connection.vendor == "postgresql" and size >= UNNEST_FROM
    assert ["UNNEST" in sql for sql in inserts] == [arrays, arrays]
    assert [g.latest_value for g in Gate.objects.filter(pk__in=[g.pk for g in gates])
            .order_by("pk")] == [Decimal(i) for i in range(size)]  # fmt: skip


def test_a_batch_writes_its_measurements_and_the_gates_state_one_statement_each(launch):
    """One path on both databases (bulk_create); on PostgreSQL each sends one array per column
    (portal.postgresql names ExactDecimalField), so a batch costs about what a raw UPDATE from
    arrays did. A field type the backend cannot send as an array would fall back to one
    placeholder per value: this test names it. (SQLite takes 999 parameters a statement, so
    there bulk_create splits a batch of more than 23 gates.)"""
    gates = probe_gates(launch, 20)
    batch = [Evaluation(gate, Reading(value=Decimal(i))) for i, gate in enumerate(gates)]
    with CaptureQueriesContext(connection) as captured:
        record_readings(batch, actor="test")

    statements = [q["sql"] for q in captured.captured_queries]
    inserts = [sql for sql in statements if sql.startswith(("INSERT INTO", 'INSERT INTO "'))]
    measurements = [sql for sql in inserts if Measurement._meta.db_table in sql.split("(")[0]]
    states = [sql for sql in inserts if "ON CONFLICT" in sql]
    assert len(measurements) == 1
    assert len(states) == 1
    assert not [
        sql for sql in statements if sql.startswith("UPDATE") and Gate._meta.db_table in sql
    ]
    if connection.vendor == "postgresql":
        assert "UNNEST" in measurements[0]
        assert "UNNEST" in states[0]
    for i, gate in enumerate(gates):
        gate.refresh_from_db()
        assert gate.latest_value == Decimal(i)
        assert gate.latest_measurement.value == Decimal(i)
        assert gate.spark_points[-1][0] == float(i)
