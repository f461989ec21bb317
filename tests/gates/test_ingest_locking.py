"""Pushed reports on PostgreSQL: ingest_report() reads its gates locked, once, and
record_readings() takes them as they are; nothing of a concurrent ingest is lost."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections, transaction

from apps.audit.models import AuditEvent, chain_name
from apps.audit.services import verify
from apps.gates.models import Gate, Measurement
from apps.gates.services import IngestError, ingest_report
from apps.specs.services import import_launch_spec
from tests.helpers import ROOT, to_yaml

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("needs_postgresql")]
JUNIT = ROOT / "tests" / "fixtures" / "reports" / "junit" / "pytest-9.2.0-generated.xml"
THREADS = 8


@pytest.fixture
def launch(spec):
    for key, metric in (("unit-tests", "tests.failed"), ("test-count", "tests.total")):
        spec["gates"].append({
            "key": key, "name": key, "category": "quality", "dimension": "technical",
            "blocking": True, "source": "report", "format": "junit", "metric": metric,
            "comparator": ">=", "threshold": 0, "unit": "count", "for": 3,
        })  # fmt: skip
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _ingest(launch, gate_key=None):
    return ingest_report(launch=launch, data=JUNIT.read_bytes(), format=None,
                         gate_key=gate_key, name="junit.xml", actor="ci")  # fmt: skip


def test_concurrent_ingests_of_one_launch_lose_no_reading(launch):
    barrier = threading.Barrier(THREADS)

    def push(_):
        barrier.wait()
        try:
            with transaction.atomic():  # as the API view does
                return _ingest(launch)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(THREADS) as pool:
        answers = list(pool.map(push, range(THREADS)))

    assert all(len(answer) == 2 for answer in answers)
    for gate in Gate.objects.filter(launch=launch, format="junit"):
        # Each ingest advanced the state the one before it left: a reading lost to a concurrent
        # transaction would leave a shorter streak.
        assert gate.measurements.count() == THREADS
        assert gate.streak_count == THREADS, gate.key
        newest = gate.measurements.order_by("-evaluated_at", "-id").first()
        assert gate.latest_measurement_id == newest.pk
    chain = chain_name(launch.slug)
    assert AuditEvent.objects.filter(chain=chain, action="report.ingested").count() == THREADS
    assert verify(chain) is None


def test_the_answer_lists_the_gates_in_spec_order_whatever_their_ids(launch):
    Gate.objects.filter(launch=launch, key="unit-tests").update(order=99)

    measured = _ingest(launch)

    assert [m.gate.key for m in measured] == ["test-count", "unit-tests"]


def test_a_report_no_gate_reads_leaves_the_callers_transaction_usable(launch):
    with transaction.atomic():
        with pytest.raises(IngestError) as refused:
            _ingest(launch, gate_key="coverage")  # a cobertura gate: not a junit report's
        # The refusal came out of ingest_report's block without marking this one for rollback.
        assert Gate.objects.filter(launch=launch).count() == 5

    assert refused.value.status == 400
    assert not Measurement.objects.exists()
