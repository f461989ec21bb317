from django.core.management.base import BaseCommand, CommandError

from apps.audit.models import AuditEvent
from apps.audit.services import verify


class Command(BaseCommand):
    help = "Recompute the audit hash chain; exit non-zero naming the first event that breaks it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--head",
            help="a chain head hash printed earlier (in a packet or an export): it must still be "
            "in the chain, so a deleted tail is caught",
        )

    def handle(self, *args, head: str | None = None, **options):
        bad = verify()
        if bad is not None:
            raise CommandError(f"audit chain broken at event #{bad.sequence} (id {bad.pk}): {bad}")
        last = AuditEvent.objects.order_by("-sequence").first()
        if head and not AuditEvent.objects.filter(hash=head).exists():
            count = last.sequence if last else 0
            raise CommandError(
                f"the chain head {head} printed earlier is missing: events were deleted "
                f"(the chain now ends at #{count})"
            )
        count = last.sequence if last else 0
        self.stdout.write(f"audit chain holds: {count} events, head {last.hash if last else '-'}")
