from celery import shared_task

from apps.signoffs import requests, services, waivers


@shared_task(name="signoffs.sweep")
def sweep() -> int:
    """Invalidate approvals undone by time: stale evidence, expired waivers, lapsed conditions."""
    return services.sweep()


@shared_task(name="signoffs.remind")
def remind() -> int:
    """Send the sign-off reminders and escalations due now (beat, every 15 minutes)."""
    return requests.remind()


# Its name is the one beat has always had (portal/settings.py): the waivers' rules moved here.
@shared_task(name="gates.warn_expiring_waivers")
def warn_expiring_waivers() -> int:
    """Email once about each active waiver that ends within 48 hours."""
    return waivers.warn_expiring_waivers()
