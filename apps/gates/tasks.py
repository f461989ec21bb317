"""Celery tasks: thin doors onto apps.gates.services."""

import logging
from datetime import datetime

from celery import shared_task
from django.db import OperationalError, connection
from django.db.models import Q
from django.utils import timezone

from apps.gates import services
from apps.gates.models import Gate, Source

log = logging.getLogger(__name__)
TICK_BATCH = 500
# Prometheus gates per evaluation task: one task, one transaction for the batch. Read 16 at a
# time (services.READ_THREADS), a batch of reads that all time out takes 2 x 2 x
# PROMETHEUS_TIMEOUT (40 s by default), well within the task's soft time limit (90 s).
EVAL_BATCH = 32

# The claim: a conditional UPDATE per gate (its next_due_at still what the ticker read), in one
# statement. Rows are locked in id order and rows another ticker holds are skipped, so
# overlapping ticks neither deadlock nor claim a gate twice; RETURNING names the winners.
_CLAIM = """
WITH claimable AS (
    SELECT g.id FROM {table} g
    JOIN unnest(%s::bigint[], %s::timestamptz[]) AS due(id, at) ON g.id = due.id
    WHERE g.next_due_at IS NOT DISTINCT FROM due.at
    ORDER BY g.id
    FOR UPDATE OF g SKIP LOCKED
)
UPDATE {table} AS g SET next_due_at = %s + g.interval
FROM claimable WHERE g.id = claimable.id
RETURNING g.id
"""


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
    """The ids of `due` this ticker won: their next_due_at moved one interval on."""
    if not due:
        return set()
    if connection.vendor != "postgresql":  # the embedded SQLite of `make run`: one at a time
        return {gate_id for gate_id, due_at, _ in due if _claim_one(gate_id, due_at, now)}
    with connection.cursor() as cursor:
        cursor.execute(
            _CLAIM.format(table=Gate._meta.db_table),
            [[gate_id for gate_id, _, _ in due], [at for _, at, _ in due], now],
        )
        return {row[0] for row in cursor.fetchall()}


def _claim_one(gate_id: int, due_at, now) -> bool:
    """The same claim as one conditional UPDATE: only one ticker moves next_due_at on."""
    interval = Gate.objects.filter(pk=gate_id).values_list("interval", flat=True).first()
    same = Q(next_due_at__isnull=True) if due_at is None else Q(next_due_at=due_at)
    return interval is not None and bool(
        Gate.objects.filter(same, pk=gate_id).update(next_due_at=now + interval)
    )


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


@shared_task(name="gates.warn_expiring_waivers")
def warn_expiring_waivers() -> int:
    """Email once about each active waiver that ends within 48 hours."""
    return services.warn_expiring_waivers()
