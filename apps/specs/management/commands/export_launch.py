from django.core.management.base import BaseCommand, CommandError

from apps.launches.models import Launch
from apps.specs.services import export_launch_spec


class Command(BaseCommand):
    help = "Print a launch as a YAML launch spec."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug: str, **options):
        try:
            launch = Launch.objects.get(slug=slug)
        except Launch.DoesNotExist:
            raise CommandError(f"no launch with slug {slug!r}") from None
        self.stdout.write(export_launch_spec(launch), ending="")
