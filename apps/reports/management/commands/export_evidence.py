import shutil
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError

from apps.launches.models import Launch
from apps.reports.exports.jobs import export_audited


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not an ISO 8601 time with zone: {text!r}") from None


class Command(BaseCommand):
    help = "Write a launch's evidence export (ZIP with manifest and verify.py) to --out."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--out", required=True, help="Where to write the ZIP.")
        parser.add_argument("--since", help="ISO 8601 time, e.g. 2026-11-01T00:00:00+00:00")
        parser.add_argument("--until", help="ISO 8601 time (exclusive)")
        parser.add_argument("--category", action="append", help="Gate category (repeatable)")

    def handle(self, *args, slug: str, out: str, **options) -> None:
        launch = Launch.objects.filter(slug=slug).first()
        if launch is None:
            raise CommandError(f"no launch {slug!r}")
        since, until = _moment(options["since"]), _moment(options["until"])
        archive, data = export_audited(
            launch=launch,
            actor="export_evidence command",
            since=since,
            until=until,
            categories=options["category"],
        )
        with archive, open(out, "wb") as target:
            shutil.copyfileobj(archive, target, 1 << 20)
        self.stdout.write(f"{data['files']} files, zip {data['zip_sha256']} -> {out}")
