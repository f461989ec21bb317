"""Celery tasks: thin doors onto apps.gates.services."""

import logging
from datetime import datetime

from celery import shared_task
from django.db import OperationalError, transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Value
from django.utils import timezone

from apps.gates import services
from apps.gates.models import Gate, Source

log = logging.getLogger(__name__)
TICK_BATCH = 500
# Prometheus gates per evaluation task: one task, one transaction for the batch. Read 16 at a
# time (services.READ_THREADS), a batch of reads that all time out takes 2 x 2 x
# PROMETHEUS_TIMEOUT (40 s by default), well within the task's soft time limit (90 s).
EVAL_BATCH = 32


@shared_task(name="gates.tick")
def tick() -> int:
    """Claim every due polled gate for its slot and queue its evaluation; returns the count.

    Prometheus gates are queued in batches of EVAL_BATCH, report URLs one task each.
    """
    now = timezone.now()
    queued = 0
    while True:
        gates = Gate.objects.due(now).filter(launch__closed_at__isnull=True)  # closed: read-only
        due = list(gates.values_list("id", "next_due_at", "source")[:TICK_BATCH])
        won = _claim(due, now)
        claimed = [(gate_id, (due_at or now).isoformat(), source)
                   for gate_id, due_at, source in due if gate_id in won]  # fmt: skip
        _queue(claimed)
        queued += len(claimed)
        if len(due) < TICK_BATCH:
            return queued


def _claim(due: list[tuple], now) -> set[int]:
    """The ids of `due` this ticker won: those whose next_due_at is still what the ticker read,
    moved one interval on, in one transaction.

    The rows are locked in id order and rows another ticker holds are skipped (it is claiming
    them), so overlapping ticks neither deadlock nor claim a gate twice; a row locked here cannot
    change before the commit, so comparing its next_due_at in Python is the conditional UPDATE's
    test. On the embedded SQLite, which has no row locks, the transaction takes the database's
    write lock when it begins (portal/settings.py: transaction_mode IMMEDIATE), which serialises
    tickers the same way."""
    if not due:
        return set()
    read = {gate_id: due_at for gate_id, due_at, _ in due}
    later = ExpressionWrapper(Value(now) + F("interval"), output_field=DateTimeField())
    with transaction.atomic():
        locked = Gate.objects.filter(pk__in=read).order_by("pk").select_for_update(skip_locked=True)
        won = {pk for pk, at in locked.values_list("pk", "next_due_at") if at == read[pk]}
        Gate.objects.filter(pk__in=won).update(next_due_at=later)
    return won


def _queue(claimed: list[tuple[int, str, str]]) -> None:
    batch = [[gate_id, slot] for gate_id, slot, source in claimed if source == Source.PROMETHEUS]
    for start in range(0, len(batch), EVAL_BATCH):
        evaluate_gates.delay_on_commit(batch[start : start + EVAL_BATCH])
    for gate_id, slot, source in claimed:
        if source != Source.PROMETHEUS:
            evaluate_gate.delay_on_commit(gate_id, slot)


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


@shared_task(
    name="gates.evaluate_gates",
    autoretry_for=(OperationalError,),
    retry_backoff=True,
    retry_backoff_max=60,
    max_retries=3,
)
def evaluate_gates(batch: list[list]) -> int:
    """Evaluate a batch of [gate id, slot] claims; a redelivered batch measures only the gates
    whose slot is not measured yet. Returns the number of measurements stored."""
    slots = {int(gate_id): datetime.fromisoformat(slot) for gate_id, slot in batch}
    gates = list(
        Gate.objects.select_related("launch", "prometheus")
        .filter(pk__in=slots, retired_at__isnull=True)
        .order_by("pk")
    )
    measurements = services.evaluate_gates(gates=gates, slots=slots)
    return sum(m is not None for m in measurements)
