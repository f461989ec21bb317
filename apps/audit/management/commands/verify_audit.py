from django.core.management.base import BaseCommand, CommandError

from apps.audit.models import AuditEvent
from apps.audit.services import check_chain


class Command(BaseCommand):
    help = (
        "Recompute the audit hash chain and hold it against its head; exit non-zero naming the "
        "problem: an edited event, missing events, or a chain emptied or restarted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--head",
            help="a chain head hash printed earlier (in a packet or an export): it must still be "
            "in the chain, so a deleted tail is caught",
        )

    def handle(self, *args, head: str | None = None, **options):
        check = check_chain()
        if not check.ok:
            bad = check.event
            raise CommandError(f"audit chain broken at event #{bad.sequence}: {check.problem}")
        last = check.newest
        count = last.sequence if last else 0
        if head and not AuditEvent.objects.filter(hash=head).exists():
            raise CommandError(
                f"the chain head {head} printed earlier is missing: events were deleted "
                f"(the chain now ends at #{count})"
            )
        self.stdout.write(f"audit chain holds: {count} events, head {last.hash if last else '-'}")
