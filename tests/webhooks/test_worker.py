"""Deliveries through a real Celery worker on Redis, to receivers on loopback.

The worker runs with 1-second retry delays and a 3-second read timeout (WEBHOOK_* settings from
its environment), and allows exactly the receivers' ip:port.
"""

import time
from datetime import timedelta

import pytest
from celery import Celery
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.signoffs.services import record_decision
from apps.webhooks.models import EventKind, WebhookDelivery, WebhookSubscription
from tests.celery_worker import Worker, broker_url, wait_for
from tests.webhooks.conftest import ALLOWED_RECEIVERS, approve, read

pytestmark = pytest.mark.django_db(transaction=True)
ALL_KINDS = list(EventKind.values)


@pytest.fixture(scope="module")
def worker(django_db_setup, tmp_path_factory):
    log = tmp_path_factory.mktemp("webhooks") / "worker.log"
    env = {"SOURCE_ALLOWED_HOSTS": ",".join(ALLOWED_RECEIVERS), "WEBHOOK_RETRY_DELAYS": "1,1",
           "WEBHOOK_READ_TIMEOUT": "3"}  # fmt: skip
    started = Worker(concurrency=2, env=env, log=log)
    yield started
    started.stop()


def _subscribe(launch, receiver, events=ALL_KINDS) -> WebhookSubscription:
    return WebhookSubscription.objects.create(launch=launch, url=receiver.url, events=events)


def _settled(subscription) -> list[WebhookDelivery]:
    deliveries = list(subscription.deliveries.all())
    return all(d.status != "pending" for d in deliveries) and deliveries


def test_each_kind_arrives_signed(worker, launch, people, receivers):
    subscription = _subscribe(launch, receivers[0])
    read("availability", "99.95")
    read("coverage", "91")
    approve(people["vera"])
    read("availability", "90")  # the approval is invalidated with the gate
    record_decision(launch=launch, user=people["vera"], decision="no-go", attendees="pat",
                    notes="")  # fmt: skip
    received = receivers[0].wait_for(6, timeout=30)
    made = ["gate.status_changed", "signoff.signed", "signoff.invalidated", "launch.decided"]
    assert sorted(set(receivers[0].kinds())) == sorted(made)  # every kind these changes make
    assert all(r.signed_with(subscription.secret) for r in received)
    for got in received:
        audit = AuditEvent.objects.get(sequence=got.json["audit"]["sequence"])
        assert (audit.action, audit.hash) == (got.json["kind"], got.json["audit"]["hash"])
        assert got.headers["X-Launch-Portal-Delivery"] == got.json["id"]
    deliveries = wait_for(lambda: _settled(subscription), timeout=10, what="delivered rows")
    assert {(d.status, d.attempts, d.last_response_code) for d in deliveries} == {
        ("delivered", 1, 200)
    }


def test_a_500_is_retried_and_logged_while_another_subscription_gets_its_delivery(
    worker, launch, receivers
):
    receivers[0].answer(500)
    failing = _subscribe(launch, receivers[0], [EventKind.GATE_STATUS])
    healthy = _subscribe(launch, receivers[1], [EventKind.GATE_STATUS])
    read("availability", "99.95")
    receivers[1].wait_for(1, timeout=20)
    (delivery,) = wait_for(lambda: _settled(failing), timeout=30, what="the retries to end")
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("failed", 3, 500)
    assert [(e["attempt"], e["code"]) for e in delivery.log] == [(1, 500), (2, 500), (3, 500)]
    assert len(receivers[0].received) == 3
    assert {r.json["id"] for r in receivers[0].received} == {str(delivery.uuid)}
    assert all(r.signed_with(failing.secret) for r in receivers[0].received)
    assert healthy.deliveries.get().status == "delivered"


def test_a_hanging_endpoint_holds_neither_the_change_nor_another_receiver(
    worker, launch, receivers
):
    receivers[0].answer(200, delay=60)
    hanging = _subscribe(launch, receivers[0], [EventKind.GATE_STATUS])
    _subscribe(launch, receivers[1], [EventKind.GATE_STATUS])
    started = time.monotonic()
    read("availability", "99.95")  # commits: the state change does not wait for any receiver
    assert time.monotonic() - started < 2
    receivers[0].wait_for(1, timeout=20)
    receivers[1].wait_for(1, timeout=20)
    assert hanging.deliveries.get().attempts == 0  # still hanging while the other was served
    (delivery,) = wait_for(lambda: _settled(hanging), timeout=40, what="the timed-out attempts")
    assert delivery.status == "failed" and delivery.attempts == 3
    assert all(e["error"].startswith("timed out after") for e in delivery.log), delivery.log


def test_a_rolled_back_change_sends_nothing(worker, launch, receivers):
    subscription = _subscribe(launch, receivers[0])
    with pytest.raises(RuntimeError), transaction.atomic():
        read("availability", "99.95")
        raise RuntimeError("the change fails after its audit event")
    read("availability", "90")  # committed: pending -> failing
    (got,) = receivers[0].wait_for(1, timeout=20)
    wait_for(lambda: _settled(subscription), timeout=10, what="the committed delivery")
    time.sleep(1)  # time for a stray task to arrive, had one been queued
    assert len(receivers[0].received) == 1
    assert got.json["data"]["from"] == "pending" and got.json["data"]["to"] == "failing"
    assert subscription.deliveries.count() == 1


def test_the_sweep_sends_a_delivery_whose_task_was_lost(worker, launch, receivers):
    subscription = _subscribe(launch, receivers[0])
    lost = WebhookDelivery.objects.create(
        subscription=subscription, event_sequence=1, event_kind=EventKind.DECISION,
        payload={"kind": "launch.decided"}, next_attempt_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip
    Celery(broker=broker_url()).send_task("webhooks.sweep")
    (got,) = receivers[0].wait_for(1, timeout=20)
    assert got.headers["X-Launch-Portal-Delivery"] == str(lost.uuid)
    assert got.signed_with(subscription.secret)
    wait_for(lambda: _settled(subscription), timeout=10, what="the swept delivery")
