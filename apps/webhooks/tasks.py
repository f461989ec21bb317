"""Celery tasks: thin doors onto apps.webhooks.services."""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from apps.webhooks import services


# The HTTP exchange is cut after WEBHOOK_CONNECT_TIMEOUT + WEBHOOK_READ_TIMEOUT (8 s by default):
# the limits only catch a delivery stuck elsewhere, so one endpoint cannot hold a worker.
@shared_task(name="webhooks.deliver", soft_time_limit=30, time_limit=40)
def deliver(delivery_id: int, attempt: int = 1) -> None:
    """Make attempt number `attempt` of a delivery; queue the next one after its backoff delay.

    Each countdown is below the broker's visibility timeout (checked in settings), so Redis does
    not hand a waiting retry to a second worker.
    """
    retry_in = services.attempt_delivery(delivery_id=delivery_id, attempt=attempt)
    if retry_in is not None:
        deliver.apply_async(args=[delivery_id, attempt + 1], countdown=retry_in)


@shared_task(name="webhooks.sweep")
def sweep() -> int:
    """Queue again the attempts whose task was lost (see services.overdue_attempts)."""
    grace = timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE)
    claimed = services.overdue_attempts(now=timezone.now(), grace=grace)
    for delivery_id, attempt in claimed:
        deliver.delay(delivery_id, attempt)
    return len(claimed)
