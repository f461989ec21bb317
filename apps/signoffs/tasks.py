from celery import shared_task

from apps.signoffs import services


@shared_task(name="signoffs.sweep")
def sweep() -> int:
    """Invalidate approvals undone by time: stale evidence, expired waivers, lapsed conditions."""
    return services.sweep()
