import json
import sys

from django.core.management.base import BaseCommand, CommandError

from apps.launches.models import Launch
from apps.signoffs.api import readiness_document


class Command(BaseCommand):
    help = "Print a launch's readiness as JSON; exit 0 only when it is ready (for deploy gates)."

    def add_arguments(self, parser):
        parser.add_argument("slug")

    def handle(self, *args, slug: str, **options):
        launch = Launch.objects.filter(slug=slug).first()
        if launch is None:
            raise CommandError(f"no launch with slug {slug!r}")
        document = readiness_document(launch)
        self.stdout.write(json.dumps(document, indent=2))
        if not document["ready"]:
            sys.exit(1)
