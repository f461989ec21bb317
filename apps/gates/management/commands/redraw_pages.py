from django.core.management.base import BaseCommand, CommandError

from apps.gates import rows
from apps.launches.models import Launch


class Command(BaseCommand):
    help = (
        "Have the pages draw their cached parts again (apps/gates/rows.py), for every launch or "
        "the ones named: after data was changed around the portal (SQL, a shell's update()), "
        "which the pages would otherwise show only once their parts leave the cache (5 minutes)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", metavar="SLUG", help="launches (default: all)")

    def handle(self, *args, slugs: list[str], **options):
        launches = Launch.objects.filter(slug__in=slugs) if slugs else Launch.objects.all()
        found = dict(launches.values_list("slug", "pk"))
        if unknown := sorted(set(slugs) - set(found)):
            raise CommandError(f"no launch {', '.join(unknown)}")
        for pk in found.values():
            rows.bump(pk, rows.EVERYTHING)
        self.stdout.write(f"{len(found)} launch(es): every cached part is drawn again")
