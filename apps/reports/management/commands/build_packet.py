from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.launches.models import Launch
from apps.reports.packets.store import build_packet, open_packet


class Command(BaseCommand):
    help = "Render a launch's sign-off packet now, store it, and copy it to --out."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--out", required=True, help="Where to write the PDF.")

    def handle(self, *args, slug: str, out: str, **options) -> None:
        launch = Launch.objects.filter(slug=slug).first()
        if launch is None:
            raise CommandError(f"no launch {slug!r}")
        packet = build_packet(launch=launch, actor="build_packet command")
        with open_packet(packet) as stored:
            Path(out).write_bytes(stored.read())
        self.stdout.write(f"{packet.status} packet {packet.sha256} ({packet.size} bytes) -> {out}")
