from django.core.management.base import BaseCommand, CommandError

from apps.api.models import Scope
from apps.api.services import create_api_token
from apps.launches.models import Launch


class Command(BaseCommand):
    help = "Create an API token for a launch and print it (it is shown this once)."

    def add_arguments(self, parser):
        parser.add_argument("--launch", required=True, help="the launch's slug")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--scope", action="append", choices=Scope.values, help="repeatable; default: ingest"
        )

    def handle(self, *args, launch: str, name: str, scope, **options):
        found = Launch.objects.filter(slug=launch).first()
        if found is None:
            raise CommandError(f"no launch with slug {launch!r}")
        if found.api_tokens.filter(name=name).exists():
            raise CommandError(f"launch {launch!r} already has a token named {name!r}")
        _, raw = create_api_token(
            launch=found, name=name, scopes=scope or [Scope.INGEST], actor="create_api_token"
        )
        self.stdout.write(raw)
