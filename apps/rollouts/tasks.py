"""Celery tasks: thin doors onto apps.rollouts.services."""

from datetime import datetime

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.rollouts import services
from apps.rollouts.models import RolloutRun, RunStatus


@shared_task(name="rollouts.tick")
def tick() -> int:
    """Claim every run under way whose analysis is due and queue it; returns the count.

    The claim is a conditional UPDATE (next_due_at still what this ticker read): of two tickers,
    the one whose UPDATE changed the row queues the analysis, for the slot it claimed.
    """
    now = timezone.now()
    queued = 0
    for run_id, due_at, interval in RolloutRun.objects.due(now).values_list(
        "id", "next_due_at", "interval"
    ):
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
