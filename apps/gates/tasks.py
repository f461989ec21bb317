"""Celery tasks: thin doors onto apps.gates.services."""

import logging
from datetime import datetime

from celery import shared_task
from django.db import OperationalError
from django.db.models import Q
from django.utils import timezone

from apps.gates import services
from apps.gates.models import Gate

log = logging.getLogger(__name__)
TICK_BATCH = 500


@shared_task(name="gates.tick")
def tick() -> int:
    """Claim every due polled gate for its slot and queue one evaluation each."""
    now = timezone.now()
    queued = 0
    while True:
        due = list(Gate.objects.due(now).values_list("id", "next_due_at", "interval")[:TICK_BATCH])
        queued += sum(_claim(gate_id, due_at, interval, now) for gate_id, due_at, interval in due)
        if len(due) < TICK_BATCH:
            return queued


def _claim(gate_id: int, due_at, interval, now) -> bool:
    """The conditional UPDATE is the claim: only one ticker moves next_due_at on."""
    same = Q(next_due_at__isnull=True) if due_at is None else Q(next_due_at=due_at)
    if not Gate.objects.filter(same, pk=gate_id).update(next_due_at=now + interval):
        return False
    evaluate_gate.delay_on_commit(gate_id, (due_at or now).isoformat())
    return True


@shared_task(
    name="gates.evaluate_gate",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=3,
)
def evaluate_gate(gate_id: int, slot: str | None = None) -> int | None:
    """Evaluate one gate for its claimed slot; a redelivery for the same slot stores nothing."""
    gate = Gate.objects.select_related("launch", "prometheus").filter(pk=gate_id).first()
    if gate is None or gate.retired_at is not None:
        return None
    when = datetime.fromisoformat(slot) if slot else None
    measurement = services.evaluate_gate(gate=gate, slot=when)
    return measurement.pk if measurement else None
