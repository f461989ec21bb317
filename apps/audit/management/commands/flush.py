"""Django's flush, refused where the audit tables refuse TRUNCATE, except on a test database.

The test runner flushes the database after every transactional test; `tests/conftest.py` sets
AUDIT_FLUSH_ALLOWED for that, and the guards are lifted inside the flush's own transaction only.
Anywhere else a flush would empty the audit log, so it is refused with the reason.
"""

from django.conf import settings
from django.core.management.base import CommandError
from django.core.management.commands import flush
from django.db import connections, transaction

TRUNCATE_GUARDS = (
    "audit_event_no_truncate",
    "audit_chainhead_no_truncate",
    "audit_checkpoint_no_truncate",
)


class Command(flush.Command):
    def handle(self, **options):
        connection = connections[options["database"]]
        if connection.vendor != "postgresql":
            return super().handle(**options)
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            cursor.execute(
                "SELECT tgrelid::regclass::text, tgname FROM pg_trigger WHERE tgname = ANY(%s)",
                [list(TRUNCATE_GUARDS)],
            )
            guards = cursor.fetchall()
            if guards and not getattr(settings, "AUDIT_FLUSH_ALLOWED", False):
                raise CommandError(
                    "flush refused: the audit log is append-only and a flush would empty it"
                )
            for table, trigger in guards:
                cursor.execute(f'ALTER TABLE {table} DISABLE TRIGGER "{trigger}"')
            super().handle(**options)
            for table, trigger in guards:
                cursor.execute(f'ALTER TABLE {table} ENABLE TRIGGER "{trigger}"')
        return None
