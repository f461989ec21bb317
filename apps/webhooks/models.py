"""Webhook subscriptions of a launch and the deliveries made to them."""

import secrets
import uuid

from django.conf import settings
from django.db import models

from apps.launches.models import Launch


class EventKind(models.TextChoices):
    """The audit actions a subscription may follow; the kind is the audit action itself."""

    GATE_STATUS = "gate.status_changed", "Gate status changes"
    SIGNOFF = "signoff.signed", "Sign-offs"
    INVALIDATION = "signoff.invalidated", "Sign-off invalidations"
    DECISION = "launch.decided", "Go/No-Go decisions"
    SIGNOFF_REQUESTED = "signoff.requested", "Sign-off requests"
    ROLLOUT_STARTED = "rollout.started", "Rollout runs started"
    STAGE_FAILED = "rollout.stage_failed", "Rollout stage failures"
    ROLLBACK = "rollout.rollback", "Rollbacks"
    LAUNCH_CLOSED = "launch.closed", "Launch closed"


class MessageFormat(models.TextChoices):
    """The body a subscription is sent: the portal's signed JSON, or a chat tool's message."""

    PORTAL = "portal", "Launch Portal JSON (signed)"
    SLACK = "slack", "Slack incoming webhook"
    TEAMS = "teams", "Microsoft Teams incoming webhook"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


class WebhookSubscriptionQuerySet(models.QuerySet):
    def for_launch(self, launch: Launch):
        """A launch's subscriptions with who made them, active first, newest first (one query)."""
        rows = self.filter(launch=launch).select_related("created_by")
        return rows.order_by("-active", "-created_at", "-id")

    def listening(self, *, launch_slug: str, kind: str) -> list["WebhookSubscription"]:
        """The active subscriptions of the launch that follow `kind` (one query).

        Kinds are filtered here rather than in SQL: a launch has a handful of subscriptions, and
        a JSON list lookup is not portable to SQLite (the embedded mode).
        """
        rows = self.filter(launch__slug=launch_slug, active=True).select_related("launch")
        return [s for s in rows if kind in s.events]


class WebhookSubscription(models.Model):
    """A URL of a launch that is sent the events it follows, signed with its secret.

    The secret is stored as given to the receiver (an HMAC key must be known to sign with it); it
    is shown once, on the page answering its creation, and never listed again.
    """

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="webhooks")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, default=new_secret)
    events = models.JSONField(default=list, help_text="The EventKind values followed.")
    format = models.CharField(
        max_length=10, choices=MessageFormat.choices, default=MessageFormat.PORTAL
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookSubscriptionQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.launch_id} {self.url}"

    def event_labels(self) -> list[str]:
        return [EventKind(kind).label for kind in self.events if kind in EventKind.values]


class WebhookDeliveryQuerySet(models.QuerySet):
    def recent_for_launch(self, launch: Launch, limit: int = 50):
        """The launch's newest deliveries with their subscription (one query)."""
        rows = self.filter(subscription__launch=launch).select_related("subscription")
        return rows.order_by("-created_at", "-id")[:limit]


class WebhookDelivery(models.Model):
    """One event sent to one subscription: its payload, attempts and outcome.

    `uuid` is the delivery id receivers de-duplicate on: retries carry the same one. Workers
    write this row; they claim an attempt with a conditional UPDATE on `attempts`.
    """

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_chain = models.CharField(max_length=80, help_text="The audit event's chain.")
    event_sequence = models.PositiveBigIntegerField(help_text="The audit event's sequence in it.")
    event_kind = models.CharField(max_length=40, choices=EventKind.choices)
    payload = models.JSONField()
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    log = models.JSONField(default=list, help_text="One entry per attempt: at, code, error.")
    last_response_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookDeliveryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_chain", "event_sequence"],
                name="webhook_delivery_once_per_event",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=DeliveryStatus.values),
                name="webhook_delivery_status_valid",
            ),
        ]
        indexes = [models.Index(fields=["subscription", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.uuid} {self.event_kind} {self.status}"
