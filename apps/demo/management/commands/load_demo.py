from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.demo.loader import DEMO_PASSWORD, load_demo


class Command(BaseCommand):
    help = "Load the demo launch, demo users and a few readings (development only)."

    def handle(self, *args, **options):
        if not settings.DEBUG:
            raise CommandError("load_demo creates users with a known password: DEBUG must be on")
        emails = load_demo()
        self.stdout.write(f"demo logins (password {DEMO_PASSWORD}): {', '.join(emails)}")
