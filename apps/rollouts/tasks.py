"""Celery tasks: thin doors onto apps.rollouts.services."""

from datetime import datetime

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.rollouts import postlaunch, services
from apps.rollouts.models import RolloutRun, RunStatus


@shared_task(name="rollouts.tick")
def tick() -> int:
    """Claim every run under way whose analysis is due and queue it; returns the count.

    The claim is a conditional UPDATE (next_due_at still what this ticker read): of two tickers,
    the one whose UPDATE changed the row queues the analysis, for the slot it claimed.
    """
    now = timezone.now()
    queued = 0
    runs = RolloutRun.objects.due(now).filter(launch__closed_at__isnull=True)
    for run_id, due_at, interval in runs.values_list("id", "next_due_at", "interval"):
        won = RolloutRun.objects.filter(
            pk=run_id, status=RunStatus.RUNNING, next_due_at=due_at
        ).update(next_due_at=now + interval)
        if won:
            analyse.delay_on_commit(run_id, due_at.isoformat())
            queued += 1
    return queued


@shared_task(
    name="rollouts.analyse",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=3,
)
def analyse(run_id: int, slot: str) -> int:
    """One analysis of a run for its claimed slot; returns the readings stored."""
    return len(services.analyse_run(run_id=run_id, slot=datetime.fromisoformat(slot)))


@shared_task(name="rollouts.post_launch_tick")
def post_launch_tick() -> int:
    """Claim every post-launch validation whose analysis is due and queue it; returns the count."""
    claimed = postlaunch.claim_due(timezone.now())
    for validation_id, slot in claimed:
        analyse_post_launch.delay_on_commit(validation_id, slot.isoformat())
    return len(claimed)


@shared_task(
    name="rollouts.analyse_post_launch",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=3,
)
def analyse_post_launch(validation_id: int, slot: str) -> int:
    """One analysis of a post-launch validation for its claimed slot; returns the readings."""
    slot_at = datetime.fromisoformat(slot)
    return len(postlaunch.analyse_validation(validation_id=validation_id, slot=slot_at))
