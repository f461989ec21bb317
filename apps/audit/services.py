"""The audit log: record() appends a hash-chained event inside the caller's transaction."""

import hashlib
import json

from django.db import connection, transaction
from django.utils import timezone

from apps.audit.models import AuditEvent

GENESIS = "0" * 64
_CHAIN_LOCK = 726_354  # pg_advisory_xact_lock key serialising appends to the chain


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
    return event


def _actor_name(actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return actor.get_full_name() or actor.get_username()


def verify() -> AuditEvent | None:
    """The first event whose link or hash does not hold, or None when the chain holds."""
    prev = GENESIS
    expected_sequence = 1
    for event in AuditEvent.objects.order_by("sequence").iterator(chunk_size=2000):
        if event.sequence != expected_sequence or event.prev_hash != prev:
            return event
        if event.hash != event_hash(prev, event_body(event)):
            return event
        prev, expected_sequence = event.hash, expected_sequence + 1
    return None
