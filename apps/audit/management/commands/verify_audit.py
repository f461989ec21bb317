from django.core.management.base import BaseCommand, CommandError

from apps.audit.models import AuditEvent
from apps.audit.services import verify


class Command(BaseCommand):
    help = "Recompute the audit hash chain; exit non-zero naming the first event that breaks it."

    def handle(self, *args, **options):
        bad = verify()
        if bad is not None:
            raise CommandError(f"audit chain broken at event #{bad.sequence} (id {bad.pk}): {bad}")
        head = AuditEvent.objects.order_by("-sequence").first()
        count = head.sequence if head else 0
        self.stdout.write(f"audit chain holds: {count} events, head {head.hash if head else '-'}")
