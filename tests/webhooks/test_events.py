"""State changes become deliveries in their own transaction; each attempt is signed and logged.

These run the services in the test process (the receiver is a real HTTP server on loopback);
test_worker.py runs the same path through a real Celery worker.
"""

import time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.signoffs.services import record_decision
from apps.webhooks.models import DeliveryStatus, EventKind, WebhookDelivery, WebhookSubscription
from apps.webhooks.receivers import on_audit_event
from apps.webhooks.services import attempt_delivery, overdue_attempts
from tests.helpers import ROOT
from tests.webhooks.conftest import approve, read

pytestmark = pytest.mark.django_db
ALL_KINDS = list(EventKind.values)


def _subscribe(launch, url: str, events=ALL_KINDS, active=True) -> WebhookSubscription:
    return WebhookSubscription.objects.create(launch=launch, url=url, events=events, active=active)


def test_every_kind_becomes_one_delivery_per_listening_subscription(
    launch, people, receivers, django_capture_on_commit_callbacks
):
    everything = _subscribe(launch, receivers[0].url)
    decisions_only = _subscribe(launch, receivers[1].url, events=[EventKind.DECISION])
    _subscribe(launch, receivers[2].url, active=False)
    with django_capture_on_commit_callbacks() as queued:
        read("availability", "99.95")  # pending -> passing
        read("coverage", "91")  # pending -> passing
        approve(people["vera"])
        read("availability", "90")  # passing -> failing: vera's approval is invalidated
        record_decision(launch=launch, user=people["vera"], decision="no-go", attendees="pat",
                        notes="availability")  # fmt: skip
    kinds = list(
        WebhookDelivery.objects.filter(subscription=everything)
        .order_by("event_sequence")
        .values_list("event_kind", flat=True)
    )
    assert kinds == ["gate.status_changed", "gate.status_changed", "signoff.signed",
                     "gate.status_changed", "signoff.invalidated", "launch.decided"]  # fmt: skip
    assert list(decisions_only.deliveries.values_list("event_kind", flat=True)) == [
        "launch.decided"
    ]
    assert WebhookDelivery.objects.count() == 7  # nothing for the deactivated subscription
    # One task per delivery, each queued only once the change committed (plus the services' own).
    assert len(queued) >= 7


def test_the_payload_names_the_event_and_its_audit_record(launch, people, receivers):
    subscription = _subscribe(launch, receivers[0].url)
    read("availability", "99.95")
    read("coverage", "91")
    signoff = approve(people["vera"])
    read("availability", "90")
    by_kind = {d.event_kind: d for d in subscription.deliveries.order_by("event_sequence")}

    gate = by_kind["gate.status_changed"].payload  # the last one: passing -> failing
    event = AuditEvent.objects.get(sequence=gate["audit"]["sequence"])
    assert gate["kind"] == "gate.status_changed" and gate["launch"] == "atlas"
    assert gate["id"] == str(by_kind["gate.status_changed"].uuid)
    assert gate["audit"] == {"sequence": event.sequence, "hash": event.hash}
    assert gate["occurred_at"] == event.at.isoformat()
    assert gate["data"]["key"] == "availability" and gate["data"]["status"] == "failing"
    assert gate["data"]["from"] == "passing" and gate["data"]["to"] == "failing"

    signed = by_kind["signoff.signed"].payload["data"]
    assert signed["role"] == "vp-engineering" and signed["decision"] == "approve"
    assert signed["signer"] == "Vera" and signed["signoff"] == signoff.pk
    assert "ip" not in signed  # the signer's address stays in the portal's own audit log

    invalidated = by_kind["signoff.invalidated"].payload["data"]
    assert invalidated["role"] == "vp-engineering" and invalidated["signer"] == "Vera"
    assert invalidated["decision"] == "approve" and invalidated["gate"] == "availability"
    assert invalidated["reason"].startswith("gate availability is failing")


def test_a_rolled_back_change_leaves_no_delivery_and_queues_nothing(
    launch, receivers, django_capture_on_commit_callbacks
):
    _subscribe(launch, receivers[0].url)
    with (
        django_capture_on_commit_callbacks() as queued,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        read("availability", "99.95")
        assert WebhookDelivery.objects.count() == 1  # written with the change...
        raise RuntimeError("the change fails after its audit event")
    assert WebhookDelivery.objects.count() == 0  # ...and gone with it
    assert queued == []


def test_an_event_nobody_follows_costs_no_query(launch, django_assert_num_queries):
    event = AuditEvent(action="measurement.recorded", launch_slug=launch.slug, sequence=1)
    with django_assert_num_queries(0):
        on_audit_event(AuditEvent, instance=event, created=True)
    followed = AuditEvent(action="gate.status_changed", launch_slug=launch.slug, sequence=1)
    with django_assert_num_queries(1):  # the launch's active subscriptions: none
        on_audit_event(AuditEvent, instance=followed, created=True)


def _one_delivery(launch, receiver) -> WebhookDelivery:
    subscription = _subscribe(launch, receiver.url)
    read("availability", "99.95")
    return subscription.deliveries.get()


def test_a_delivery_is_signed_with_the_subscription_secret(launch, receivers):
    delivery = _one_delivery(launch, receivers[0])
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) is None
    (got,) = receivers[0].received
    assert got.path == "/hooks/launch?team=sre"
    assert got.signed_with(delivery.subscription.secret)
    assert not got.signed_with("whsec_someone-else")
    assert got.headers["X-Launch-Portal-Event"] == "gate.status_changed"
    assert got.headers["X-Launch-Portal-Delivery"] == str(delivery.uuid) == got.json["id"]
    assert got.headers["Content-Type"] == "application/json"
    assert got.json == delivery.payload
    assert abs(int(got.headers["X-Launch-Portal-Timestamp"]) - time.time()) < 60
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == (
        "delivered",
        1,
        200,
    )
    assert delivery.delivered_at is not None and delivery.next_attempt_at is None
    assert [entry["code"] for entry in delivery.log] == [200]


def test_a_500_is_retried_with_backoff_then_the_delivery_fails(launch, receivers, settings):
    settings.WEBHOOK_RETRY_DELAYS = [10, 30]
    receivers[0].answer(500)
    delivery = _one_delivery(launch, receivers[0])
    before = timezone.now()
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) == 10
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_response_code) == ("pending", 1, 500)
    assert delivery.last_error == "HTTP 500 Internal Server Error"
    assert delivery.next_attempt_at >= before + timedelta(seconds=10)
    assert attempt_delivery(delivery_id=delivery.pk, attempt=2) == 30
    assert attempt_delivery(delivery_id=delivery.pk, attempt=3) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("failed", 3, None)
    assert [(e["attempt"], e["code"]) for e in delivery.log] == [(1, 500), (2, 500), (3, 500)]
    ids = {r.headers["X-Launch-Portal-Delivery"] for r in receivers[0].received}
    assert ids == {str(delivery.uuid)} and len(receivers[0].received) == 3


def test_a_500_then_a_200_is_delivered_on_the_second_attempt(launch, receivers):
    receivers[0].answer(500, 204)
    delivery = _one_delivery(launch, receivers[0])
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) == 10
    assert attempt_delivery(delivery_id=delivery.pk, attempt=2) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_response_code, delivery.last_error) == (
        "delivered",
        204,
        "",
    )
    assert [e["code"] for e in delivery.log] == [500, 204]


def test_an_attempt_already_recorded_is_not_sent_again(launch, receivers):
    receivers[0].answer(500)
    delivery = _one_delivery(launch, receivers[0])
    attempt_delivery(delivery_id=delivery.pk, attempt=1)
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) is None  # a redelivered task
    assert len(receivers[0].received) == 1
    assert WebhookDelivery.objects.get().attempts == 1


def test_a_redirect_is_not_followed(launch, receivers):
    receivers[0].answer(302)  # to the cloud metadata address
    delivery = _one_delivery(launch, receivers[0])
    attempt_delivery(delivery_id=delivery.pk, attempt=1)
    delivery.refresh_from_db()
    assert delivery.last_response_code == 302 and delivery.status == DeliveryStatus.PENDING
    assert "redirects are not followed" in delivery.last_error
    assert len(receivers[0].received) == 1


def test_a_host_taken_off_the_allowlist_is_not_contacted(launch, receivers, settings):
    delivery = _one_delivery(launch, receivers[0])
    settings.SOURCE_ALLOWED_HOSTS = ["ci.example.com"]
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) is None  # no retry either
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_response_code is None
    assert delivery.last_error == "refused: host 127.0.0.1:18201 is not on the allowlist"
    assert receivers[0].received == []


def test_a_hanging_endpoint_is_cut_off_at_the_read_timeout(launch, receivers, settings):
    settings.WEBHOOK_READ_TIMEOUT = 1
    receivers[0].answer(200, delay=30)
    delivery = _one_delivery(launch, receivers[0])
    started = time.monotonic()
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) == 10
    assert time.monotonic() - started < 3
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("timed out") and delivery.last_response_code is None


def test_an_endpoint_that_refuses_connections_is_logged(launch, receivers, settings):
    settings.SOURCE_ALLOWED_HOSTS = [*settings.SOURCE_ALLOWED_HOSTS, "127.0.0.1:18299"]
    subscription = _subscribe(launch, "http://127.0.0.1:18299/nobody-listens")
    read("availability", "99.95")
    delivery = subscription.deliveries.get()
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) == 10
    delivery.refresh_from_db()
    assert delivery.last_error == "connection refused by 127.0.0.1:18299 (127.0.0.1)"


def test_a_deactivated_subscription_sends_nothing_more(launch, receivers):
    delivery = _one_delivery(launch, receivers[0])
    WebhookSubscription.objects.update(active=False)
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) is None
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.last_error == "the subscription was deactivated"
    assert receivers[0].received == []


def _readme_verify():
    """The verify() the README's "Webhooks" section shows, run as written."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Webhooks") :]
    code = section[section.index("```python") + len("```python") : section.index("```\n", 10)]
    scope: dict = {}
    exec(code, scope)  # noqa: S102 - our own README
    return scope["verify"]


def test_the_readme_snippet_verifies_a_real_delivery(launch, receivers):
    delivery = _one_delivery(launch, receivers[0])
    attempt_delivery(delivery_id=delivery.pk, attempt=1)
    (got,) = receivers[0].received
    verify, secret = _readme_verify(), delivery.subscription.secret
    assert verify(secret, got.headers, got.body)
    assert not verify(secret, got.headers, got.body + b" ")
    assert not verify("whsec_wrong", got.headers, got.body)
    old = {**got.headers, "X-Launch-Portal-Timestamp": str(int(time.time()) - 3600)}
    assert not verify(secret, old, got.body)


def test_an_attempt_whose_task_was_lost_is_claimed_once_by_the_sweep(launch, receivers, settings):
    settings.WEBHOOK_RETRY_DELAYS = [10]
    receivers[0].answer(500)
    delivery = _one_delivery(launch, receivers[0])  # its task never ran
    later = timezone.now() + timedelta(minutes=6)
    grace = timedelta(minutes=5)
    assert overdue_attempts(now=later, grace=grace) == [(delivery.pk, 1)]
    assert overdue_attempts(now=later, grace=grace) == []  # claimed: not queued twice
    attempt_delivery(delivery_id=delivery.pk, attempt=1)  # 500: the retry is due in 10 s
    delivery.refresh_from_db()
    due = delivery.next_attempt_at
    assert overdue_attempts(now=due + timedelta(minutes=4), grace=grace) == []
    assert overdue_attempts(now=due + timedelta(minutes=6), grace=grace) == [(delivery.pk, 2)]
    attempt_delivery(delivery_id=delivery.pk, attempt=2)  # the last: failed
    assert overdue_attempts(now=due + timedelta(hours=1), grace=grace) == []
    assert WebhookDelivery.objects.get().status == "failed"
