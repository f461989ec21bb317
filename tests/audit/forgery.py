"""What someone holding the database's keys can do to the audit log, for the tests to catch."""

import json
from contextlib import contextmanager

from django.db import connection

from apps.audit.models import AuditEvent
from apps.audit.services import event_body, event_hash


@contextmanager
def triggers_off():
    """A cursor with the append-only guards switched off (a superuser's replica role)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        try:
            yield cursor
        finally:
            if connection.vendor == "postgresql":
                cursor.execute("SET session_replication_role = DEFAULT")


def rewrite(chain: str, sequence: int, data: dict) -> str:
    """A careful forger: the event's data replaced, every hash from it on recomputed and the head
    row moved to match, so the chain holds in itself. Returns the forged head hash."""
    prev = AuditEvent.objects.get(chain=chain, sequence=sequence - 1).hash
    with triggers_off() as cursor:
        for event in AuditEvent.objects.in_chain(chain).filter(sequence__gte=sequence):
            if event.sequence == sequence:
                event.data = data
            event.prev_hash, event.hash = prev, event_hash(prev, event_body(event))
            cursor.execute(
                "UPDATE audit_auditevent SET data = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(event.data), event.prev_hash, event.hash, event.pk],
            )
            prev = event.hash
        cursor.execute("UPDATE audit_chainhead SET hash = %s WHERE chain = %s", [prev, chain])
    return prev


def truncate(chain: str, after: int) -> None:
    """Events after `after` deleted and the head row moved back to match."""
    with triggers_off() as cursor:
        cursor.execute(
            "DELETE FROM audit_auditevent WHERE chain = %s AND sequence > %s", [chain, after]
        )
        kept = AuditEvent.objects.get(chain=chain, sequence=after).hash
        cursor.execute(
            "UPDATE audit_chainhead SET sequence = %s, hash = %s WHERE chain = %s",
            [after, kept, chain],
        )
