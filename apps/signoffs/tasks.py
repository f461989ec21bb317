from celery import shared_task

from apps.signoffs import requests, services


@shared_task(name="signoffs.sweep")
def sweep() -> int:
    """Invalidate approvals undone by time: stale evidence, expired waivers, lapsed conditions."""
    return services.sweep()


@shared_task(name="signoffs.remind")
def remind() -> int:
    """Send the sign-off reminders and escalations due now (beat, every 15 minutes)."""
    return requests.remind()
