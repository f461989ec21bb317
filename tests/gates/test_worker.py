"""Polling with a real Celery worker on the machine's Redis (RELIABILITY cases 8 and 9)."""

import os
import signal
from datetime import timedelta

import pytest
from celery import Celery
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.models import Gate, Measurement
from apps.gates.tasks import evaluate_gate, tick
from tests.celery_worker import Worker, broker_url, purge, wait_for
from tests.helpers import import_report_only_launch, probe_gates

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def launch(spec):
    return import_report_only_launch(spec)


def _vector(value: str) -> list:
    return [{"metric": {"job": "api"}, "value": [1_700_000_000, value]}]


def _client() -> Celery:
    return Celery(broker=broker_url())


def test_a_burst_of_1000_due_gates_is_evaluated_once_each(launch, fake_prometheus, tmp_path):
    fake_prometheus.answer_success("vector", _vector("1"))
    probe_gates(launch, 999)  # plus "availability": 1,000 polled gates
    worker = Worker(concurrency=4, env={"PROMETHEUS_URL": fake_prometheus.url},
                    log=tmp_path / "worker.log")  # fmt: skip
    try:
        client = _client()
        for _ in range(3):  # overlapping ticks: the conditional UPDATE lets one claim win
            client.send_task("gates.tick")
        wait_for(lambda: Measurement.objects.count() >= 1000, timeout=240,
                 what="1,000 measurements")  # fmt: skip
        client.send_task("gates.tick")  # nothing is due again for another interval
        wait_for(lambda: b"gates.tick" in (tmp_path / "worker.log").read_bytes(), timeout=10,
                 what="the last tick")  # fmt: skip
    finally:
        worker.stop()
    assert Measurement.objects.count() == 1000
    assert Measurement.objects.values("gate").distinct().count() == 1000
    assert fake_prometheus.request_count == 1000
    probes = Measurement.objects.filter(gate__key__startswith="probe-")
    assert probes.filter(status="passing").count() == 999  # availability (>= 99.9) reads 1: failing


def test_a_worker_killed_mid_evaluation_loses_nothing_and_duplicates_nothing(
    launch, fake_prometheus, tmp_path
):
    fake_prometheus.answer({"status": "success", "data": {"resultType": "vector",
                            "result": _vector("99.99")}}, delay=3)  # fmt: skip
    gate = Gate.objects.get(key="availability")
    worker = Worker(concurrency=1, env={"PROMETHEUS_URL": fake_prometheus.url},
                    log=tmp_path / "worker.log")  # fmt: skip
    try:
        slot = timezone.now().replace(microsecond=0)
        _client().send_task("gates.evaluate_gate", args=[gate.pk, slot.isoformat()])
        wait_for(lambda: fake_prometheus.request_count >= 1, timeout=30, what="the query")
        for child in worker.children():  # SIGKILL the pool process mid-task
            os.kill(child, signal.SIGKILL)
        wait_for(lambda: Measurement.objects.filter(gate=gate).exists(), timeout=60,
                 what="the redelivered evaluation")  # fmt: skip
    finally:
        worker.stop()
    assert fake_prometheus.request_count == 2  # the evaluation ran again, once
    assert Measurement.objects.filter(gate=gate).count() == 1
    assert AuditEvent.objects.filter(action="gate.status_changed", object_key=gate.key).count() == 1


def test_a_redelivered_slot_is_not_measured_twice(launch, fake_prometheus, settings):
    settings.PROMETHEUS_URL = fake_prometheus.url
    fake_prometheus.answer_success("vector", _vector("99.99"))
    gate = Gate.objects.get(key="availability")
    slot = timezone.now().replace(microsecond=0).isoformat()
    first = evaluate_gate.run(gate.pk, slot)
    assert first is not None
    assert evaluate_gate.run(gate.pk, slot) is None
    assert Measurement.objects.filter(gate=gate).count() == 1


def test_a_task_queued_in_a_rolled_back_transaction_never_runs(launch, fake_prometheus, tmp_path):
    fake_prometheus.answer_success("vector", _vector("99.99"))
    gate = Gate.objects.get(key="availability")
    purge(broker_url())
    with pytest.raises(RuntimeError), transaction.atomic():
        evaluate_gate.delay_on_commit(gate.pk, None)
        raise RuntimeError("roll back")
    worker = Worker(concurrency=1, env={"PROMETHEUS_URL": fake_prometheus.url},
                    log=tmp_path / "worker.log")  # fmt: skip
    try:
        evaluate_gate.delay_on_commit(gate.pk, None)  # outside a transaction: sent at once
        wait_for(lambda: Measurement.objects.filter(gate=gate).exists(), timeout=30,
                 what="the committed task")  # fmt: skip
    finally:
        worker.stop()
    assert Measurement.objects.filter(gate=gate).count() == 1
    assert fake_prometheus.request_count == 1


def test_tick_claims_each_due_gate_once(launch, settings):
    gate = Gate.objects.get(key="availability")
    purge(broker_url())
    assert tick() == 1
    assert tick() == 0  # claimed: next_due_at moved one interval on
    gate.refresh_from_db()
    assert gate.next_due_at > timezone.now() + gate.interval - timedelta(seconds=5)
    assert list(Gate.objects.due(timezone.now())) == []
    assert list(Gate.objects.due(gate.next_due_at)) == [gate]
    purge(broker_url())


def test_a_gate_another_ticker_claimed_since_it_was_read_is_not_claimed_again(launch):
    from apps.gates.tasks import _claim

    gate = Gate.objects.get(key="availability")
    now = timezone.now()
    read = [(gate.pk, gate.next_due_at, gate.source)]  # what this ticker read
    assert _claim(read, now) == {gate.pk}  # the other ticker, which read the same
    gate.refresh_from_db()
    assert gate.next_due_at == now + gate.interval

    assert _claim(read, now + timedelta(seconds=1)) == set()  # this one, a moment later
    gate.refresh_from_db()
    assert gate.next_due_at == now + gate.interval


def test_the_worker_refuses_a_redis_visibility_timeout_shorter_than_its_delays():
    from portal.celery import app, check_visibility_timeout

    conf = app.conf
    saved = conf.broker_transport_options, conf.broker_url
    try:
        conf.broker_url = "redis://127.0.0.1:6379/15"
        conf.broker_transport_options = {"visibility_timeout": 30}
        with pytest.raises(RuntimeError, match="visibility_timeout 30s must exceed"):
            check_visibility_timeout(conf)
        # Longer than the default task limit, shorter than the export task's own limit (1800 s).
        conf.broker_transport_options = {"visibility_timeout": 1000}
        with pytest.raises(RuntimeError, match="longest task delay 1800s"):
            check_visibility_timeout(conf)
        conf.broker_transport_options = {"visibility_timeout": 3600}
        check_visibility_timeout(conf)
    finally:
        conf.broker_transport_options, conf.broker_url = saved
