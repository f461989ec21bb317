"""Webhooks: subscribing, turning audit events into deliveries, and attempting a delivery.

A delivery row is written in the transaction of the change it reports (so a rolled-back change
sends nothing) and sent by a Celery task after commit (so a change never waits for a receiver).
Each attempt is claimed by the conditional UPDATE that records it: a duplicate task finds the
attempt recorded and stops.
"""

import json
import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.audit.services import record
from apps.gates.models import Gate
from apps.gates.sources import SourceError
from apps.launches.models import Launch
from apps.signoffs.models import Role, SignOff
from apps.webhooks import chat, sender, signing
from apps.webhooks.models import (
    DeliveryStatus,
    EventKind,
    MessageFormat,
    WebhookDelivery,
    WebhookSubscription,
)
from portal.links import portal_url
from portal.outbound import UnsafeURL, check_url

# Audit data a receiver outside the portal has no business with.
PRIVATE_DATA = ("ip", "signer_email")  # personal data stays in the audit log
CHAT_LAYOUTS = {MessageFormat.SLACK: chat.slack, MessageFormat.TEAMS: chat.teams}


class WebhookRefused(Exception):
    """A subscription that may not be saved; the message says why."""


# --- subscriptions -----------------------------------------------------------------------------


def check_webhook_url(url: str) -> None:
    """Refuse a URL that is not http(s) or whose host is not on SOURCE_ALLOWED_HOSTS (or that
    resolves to a private address the allowlist does not name exactly). Raises WebhookRefused."""
    try:
        check_url(url, allowed_hosts=settings.SOURCE_ALLOWED_HOSTS)
    except SourceError as exc:
        raise WebhookRefused(exc.reason) from None


def create_subscription(
    *, launch: Launch, url: str, events: list[str], actor, format: str = MessageFormat.PORTAL
) -> WebhookSubscription:
    """Subscribe `url` to `events` of `launch` in message `format`, with a new secret; audited
    as webhook.created."""
    launch.refuse_if_closed()  # a closed launch is read-only
    check_webhook_url(url)
    unknown = set(events) - set(EventKind.values)
    if not events or unknown:
        raise WebhookRefused("choose at least one of the event kinds offered")
    if format not in MessageFormat.values:
        raise WebhookRefused("choose one of the message formats offered")
    with transaction.atomic():
        subscription = WebhookSubscription.objects.create(
            launch=launch, url=url, events=sorted(set(events)), format=format, created_by=actor
        )
        # The URL itself is not copied into the audit log: some receivers carry a token in it.
        record(actor=actor, action="webhook.created", launch_slug=launch.slug, obj_type="webhook",
               obj_key=subscription.pk,
               data={"host": urlsplit(url).hostname, "events": subscription.events})  # fmt: skip
    return subscription


def deactivate_subscription(*, subscription: WebhookSubscription, actor) -> bool:
    """Stop sending to a subscription (its pending deliveries end as failed); audited once."""
    subscription.launch.refuse_if_closed()  # a closed launch is read-only
    with transaction.atomic():
        changed = WebhookSubscription.objects.filter(pk=subscription.pk, active=True).update(
            active=False, deactivated_at=timezone.now()
        )
        if changed:
            record(actor=actor, action="webhook.deactivated", launch_slug=subscription.launch.slug,
                   obj_type="webhook", obj_key=subscription.pk,
                   data={"host": urlsplit(subscription.url).hostname})  # fmt: skip
    return bool(changed)


# --- events into deliveries --------------------------------------------------------------------


def queue_deliveries(*, event: AuditEvent) -> list[int]:
    """Write one pending delivery per active subscription following `event`'s kind.

    Runs inside the transaction that recorded the event; returns the delivery ids for the caller
    to send after commit. One query when nobody listens.
    """
    subscriptions = WebhookSubscription.objects.listening(
        launch_slug=event.launch_slug, kind=event.action
    )
    if not subscriptions:
        return []
    data = event_data(event)
    notice = None
    if any(s.format in CHAT_LAYOUTS for s in subscriptions):
        notice = chat_notice(event, data, launch=subscriptions[0].launch)
    deliveries = []
    for subscription in subscriptions:
        delivery = WebhookDelivery(
            subscription=subscription,
            event_chain=event.chain,
            event_sequence=event.sequence,
            event_kind=event.action,
            next_attempt_at=event.at,  # due now: the sweep finds it if its task never ran
        )
        if subscription.format in CHAT_LAYOUTS:
            delivery.payload = CHAT_LAYOUTS[subscription.format](notice)
        else:
            delivery.payload = payload(event, data, delivery_id=str(delivery.uuid))
        deliveries.append(delivery)
    WebhookDelivery.objects.bulk_create(deliveries)
    return [d.pk for d in deliveries]


def payload(event: AuditEvent, data: dict, *, delivery_id: str) -> dict:
    """The JSON body: `id` is the delivery id (the same on every retry), so it is signed too."""
    return {
        "id": delivery_id,
        "kind": event.action,
        "launch": event.launch_slug,
        "occurred_at": event.at.isoformat(),
        "data": data,
        "audit": {"sequence": event.sequence, "hash": event.hash},
    }


def event_data(event: AuditEvent) -> dict:
    """The event's audit data without private fields, plus what names its subject."""
    data = {k: v for k, v in event.data.items() if k not in PRIVATE_DATA}
    if event.action == EventKind.GATE_STATUS:
        data.update(key=event.object_key, status=event.data.get("to"))
    elif event.action == EventKind.SIGNOFF:
        data.update(role=event.object_key, signer=event.actor_name)
    elif event.action == EventKind.INVALIDATION:
        signed = SignOff.objects.filter(pk=event.data.get("signoff")).values(
            "printed_name", "decision"
        )
        found = signed.first() or {}
        data.update(role=event.object_key, decision=found.get("decision"),
                    signer=found.get("printed_name"))  # fmt: skip
    elif event.action in ACTOR_FIELD:
        data[ACTOR_FIELD[event.action]] = event.actor_name
    if event.action == EventKind.SIGNOFF_REQUESTED:
        data.update(role=event.object_key)
    return data


# Who made the change, under a name that says what they did (a name, never an email).
ACTOR_FIELD = {
    EventKind.DECISION: "decided_by",
    EventKind.SIGNOFF_REQUESTED: "requested_by",
    EventKind.ROLLOUT_STARTED: "started_by",
    EventKind.STAGE_FAILED: "recorded_by",
    EventKind.ROLLBACK: "rolled_back_by",
    EventKind.LAUNCH_CLOSED: "closed_by",
}


def chat_notice(event: AuditEvent, data: dict, *, launch: Launch) -> chat.Notice:
    """The event in words for a chat message: its gate's or role's name (one query) and an
    absolute link to the page that shows it (none when the portal's address is unknown: a
    relative link is dead in a chat)."""
    subject, path = _subject_and_page(event, data, launch)
    link = portal_url(path)
    return chat.describe(
        event.action, data, launch=f"{launch.name} {launch.version}", subject=subject,
        actor=event.actor_name, link=link if link.startswith(("https://", "http://")) else "",
    )  # fmt: skip


def _subject_and_page(event: AuditEvent, data: dict, launch: Launch) -> tuple[str, str]:
    if event.action == EventKind.GATE_STATUS:
        key = event.object_key
        names = Gate.objects.filter(launch=launch, key=key)
        path = reverse("launches:gate", kwargs={"slug": launch.slug, "key": key})
    elif event.action in PAGE_OF:
        return "", reverse(PAGE_OF[event.action], kwargs={"slug": launch.slug})
    else:
        key = data.get("role") or ""
        names = Role.objects.filter(launch=launch, key=key)
        page = "launches:decision" if event.action == EventKind.DECISION else "launches:signoffs"
        path = reverse(page, kwargs={"slug": launch.slug})
    return names.values_list("name", flat=True).first() or key, path


# Events without a gate or role: the page a reader opens (the launch's overview until the war
# room has a name to link to).
PAGE_OF = {
    EventKind.ROLLOUT_STARTED: "launches:overview",
    EventKind.STAGE_FAILED: "launches:overview",
    EventKind.ROLLBACK: "launches:overview",
    EventKind.LAUNCH_CLOSED: "launches:post-launch",
}


# --- attempts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """One attempt's answer: a response code and/or an error; `final`: retrying is pointless."""

    code: int | None
    error: str
    final: bool = False

    @property
    def delivered(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


def attempt_delivery(*, delivery_id: int, attempt: int) -> int | None:
    """Send attempt number `attempt` of a delivery and record it; the seconds until the next
    attempt, or None when there is none (delivered, failed for good, or not ours to make).

    No transaction is held while the request is out. Only the task whose attempt number matches
    the recorded count sends; a redelivered task that finds its attempt recorded does nothing.
    """
    delivery = (
        WebhookDelivery.objects.select_related("subscription")
        .filter(pk=delivery_id, status=DeliveryStatus.PENDING, attempts=attempt - 1)
        .first()
    )
    if delivery is None:
        return None
    started = time.monotonic()
    if delivery.subscription.active:
        outcome = send(delivery)
    else:
        outcome = Outcome(code=None, error="the subscription was deactivated", final=True)
    elapsed_ms = round((time.monotonic() - started) * 1000)
    return _record_attempt(delivery, attempt, outcome, elapsed_ms)


def send(delivery: WebhookDelivery) -> Outcome:
    """POST the delivery's payload, signed, to its subscription's URL (network only, no ORM)."""
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":")).encode()
    subscription = delivery.subscription
    headers = signing.headers(secret=subscription.secret, timestamp=int(time.time()), body=body,
                              kind=delivery.event_kind, delivery=str(delivery.uuid))  # fmt: skip
    try:
        answer = sender.post(
            subscription.url,
            body=body,
            headers=headers,
            allowed_hosts=settings.SOURCE_ALLOWED_HOSTS,
            connect_timeout=settings.WEBHOOK_CONNECT_TIMEOUT,
            read_timeout=settings.WEBHOOK_READ_TIMEOUT,
        )
    except UnsafeURL as exc:  # the allowlist changed since subscribing: retrying will not help
        return Outcome(code=None, error=f"refused: {exc.reason}", final=True)
    except SourceError as exc:
        return Outcome(code=None, error=exc.reason)
    if 200 <= answer.status < 300:
        return Outcome(code=answer.status, error="")
    note = " (redirects are not followed)" if 300 <= answer.status < 400 else ""
    return Outcome(code=answer.status, error=f"HTTP {answer.status} {answer.reason}{note}".strip())


def _record_attempt(
    delivery: WebhookDelivery, attempt: int, outcome: Outcome, ms: int
) -> int | None:
    """Store the attempt with a conditional UPDATE on the attempt count (the claim)."""
    now = timezone.now()
    delays = settings.WEBHOOK_RETRY_DELAYS
    retry_in = None
    if outcome.delivered:
        status = DeliveryStatus.DELIVERED
    elif outcome.final or attempt > len(delays):
        status = DeliveryStatus.FAILED
    else:
        status, retry_in = DeliveryStatus.PENDING, delays[attempt - 1]
    entry = {"attempt": attempt, "at": now.isoformat(), "code": outcome.code,
             "error": outcome.error, "ms": ms}  # fmt: skip
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=attempt - 1
    ).update(
        attempts=attempt,
        status=status,
        log=[*delivery.log, entry],
        last_response_code=outcome.code,
        last_error=outcome.error[:500],
        last_attempt_at=now,
        next_attempt_at=now + timedelta(seconds=retry_in) if retry_in is not None else None,
        delivered_at=now if outcome.delivered else None,
    )
    return retry_in if claimed else None


# --- the safety net ----------------------------------------------------------------------------

SWEEP_BATCH = 500


def overdue_attempts(*, now, grace: timedelta) -> list[tuple[int, int]]:
    """Claim pending deliveries whose next attempt is `grace` overdue; (id, attempt) to queue.

    An attempt is lost when a process dies between committing a change (or recording an attempt)
    and queueing its task. Each claim is a conditional UPDATE that moves `next_attempt_at` to now,
    so overlapping sweeps queue one task, and a claimed row is not swept again for `grace`.
    """
    overdue = (
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lt=now - grace
        )
        .order_by("next_attempt_at")
        .values_list("id", "attempts", "next_attempt_at")[:SWEEP_BATCH]
    )
    claimed = []
    for delivery_id, attempts, due in overdue:
        if WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, attempts=attempts, next_attempt_at=due
        ).update(next_attempt_at=now):
            claimed.append((delivery_id, attempts + 1))
    return claimed
