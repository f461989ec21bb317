"""The audit log: record() appends a hash-chained event inside the caller's transaction."""

import hashlib
import json
import logging
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from apps.audit.models import AuditEvent, ChainHead

GENESIS = "0" * 64
PORTAL_CHAIN = "portal"  # the one chain today; its head row is keyed by this name
_CHAIN_LOCK = 726_354  # pg_advisory_xact_lock key serialising appends to the chain

logger = logging.getLogger(__name__)


def canonical_json(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_hash(prev_hash: str, body: dict) -> str:
    return hashlib.sha256((prev_hash + canonical_json(body)).encode()).hexdigest()


def event_body(event: AuditEvent) -> dict:
    """The fields the hash covers, in the form verify() recomputes them from."""
    return {
        "sequence": event.sequence,
        "at": event.at.isoformat(),
        "actor": event.actor_name,
        "action": event.action,
        "launch": event.launch_slug,
        "object_type": event.object_type,
        "object_key": event.object_key,
        "data": event.data,
    }


def record(
    *, actor, action: str, launch_slug: str = "", obj_type: str = "", obj_key: str = "", data=None
) -> AuditEvent:
    """Append one event. Must run inside the transaction of the change it records."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit.record() must run inside the transaction of the change")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK])
    last = AuditEvent.objects.order_by("-sequence").only("sequence", "hash").first()
    user = actor if getattr(actor, "pk", None) else None
    event = AuditEvent(
        sequence=(last.sequence + 1) if last else 1,
        at=timezone.now(),
        actor=user,
        actor_name=_actor_name(actor),
        action=action,
        launch_slug=launch_slug,
        object_type=obj_type,
        object_key=str(obj_key),
        data=json.loads(canonical_json(data or {})),
        prev_hash=last.hash if last else GENESIS,
    )
    event.hash = event_hash(event.prev_hash, event_body(event))
    event.save(force_insert=True)
    _advance_head(event)
    return event


def _advance_head(event: AuditEvent) -> None:
    """Move the chain's head to `event`, under the chain lock.

    The head moves only from the event `event` links to, so when the events were emptied or
    rewritten it stays where it was, for verify() to name, however many events follow.
    """
    moved = ChainHead.objects.filter(
        chain=PORTAL_CHAIN, sequence=event.sequence - 1, hash=event.prev_hash
    ).update(sequence=event.sequence, hash=event.hash)
    if moved:
        return
    head = ChainHead.objects.filter(chain=PORTAL_CHAIN).first()
    if head is None:
        first = event if event.sequence == 1 else AuditEvent.objects.filter(sequence=1).first()
        ChainHead.objects.create(
            chain=PORTAL_CHAIN,
            sequence=event.sequence,
            hash=event.hash,
            first_hash=first.hash if first else "",
        )
    elif head.sequence < event.sequence and _holds(head):
        # Events were appended beside record() (bench/series.py COPYs them): catch up.
        ChainHead.objects.filter(pk=head.pk).update(sequence=event.sequence, hash=event.hash)
    else:
        logger.error("audit %s is not in the events any more: run verify_audit", head)


def _holds(head: ChainHead) -> bool:
    return AuditEvent.objects.filter(sequence=head.sequence, hash=head.hash).exists()


def _actor_name(actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return actor.get_full_name() or actor.get_username()


@dataclass(frozen=True)
class ChainCheck:
    """What verify_audit reports: whether the chain holds and, if not, where and why."""

    ok: bool
    newest: AuditEvent | None = None
    event: AuditEvent | None = None  # the first bad event, or the missing one the head records
    problem: str = ""


def check_chain() -> ChainCheck:
    """Recompute every link and hash, then hold the events against the chain's head row."""
    # The head first: the events committed with it, and any newer ones, are then in the walk.
    head = ChainHead.objects.filter(chain=PORTAL_CHAIN).first()
    newest, bad, problem = _walk()
    if bad is None and head is not None:
        bad, problem = _against_head(head, newest)
    return ChainCheck(ok=bad is None, newest=newest, event=bad, problem=problem)


def verify() -> AuditEvent | None:
    """The first event that breaks the chain, or None when it holds (see check_chain())."""
    return check_chain().event


def _walk() -> tuple[AuditEvent | None, AuditEvent | None, str]:
    """(the newest event, the first event whose link or hash does not hold, what is wrong)."""
    prev, expected, event = GENESIS, 1, None
    for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000):
        problem = _link_problem(event, prev, expected)
        if problem:
            return event, event, problem
        prev, expected = event.hash, expected + 1
    return event, None, ""


def _link_problem(event: AuditEvent, prev: str, expected: int) -> str:
    n = event.sequence
    gap = f"#{expected} is missing" if n == expected + 1 else f"#{expected} to #{n - 1} are missing"
    if n != expected and expected == 1:
        return f"the events begin at #{n}: {gap}"
    if n != expected:
        return f"event #{n} follows #{expected - 1}: {gap}"
    if event.prev_hash != prev and event.prev_hash == GENESIS:
        return f"chain restarted at event #{n}: it starts again from the zero hash"
    if event.prev_hash != prev:
        return f"event #{n} does not link to event #{n - 1}"
    if event.hash != event_hash(prev, event_body(event)):
        return f"event #{n} was altered: its hash does not match its content"
    return ""


def _against_head(head: ChainHead, newest: AuditEvent | None) -> tuple[AuditEvent | None, str]:
    """The events, which chain from the zero hash, must still hold the event the head records."""
    recorded = f"the head records sequence {head.sequence} (hash {head.hash[:16]}...)"
    missing = AuditEvent(sequence=head.sequence, hash=head.hash, prev_hash="")  # never saved
    if newest is None:
        return missing, f"chain emptied: {recorded}, the events table is empty"
    first = AuditEvent.objects.get(sequence=1)  # _walk() found it
    if head.first_hash and first.hash != head.first_hash:
        return first, (
            f"chain restarted: {recorded}, the events end at sequence {newest.sequence} "
            "which starts again from the zero hash"
        )
    if newest.sequence < head.sequence:
        return missing, f"events deleted: {recorded}, the events end at sequence {newest.sequence}"
    if not _holds(head):
        event = AuditEvent.objects.get(sequence=head.sequence)
        return event, f"chain rewritten: {recorded}, event #{head.sequence} has another hash"
    return None, ""
