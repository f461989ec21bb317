from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.specs.services import import_launch_spec
from apps.specs.spec import MAX_SPEC_BYTES, SpecError


class Command(BaseCommand):
    help = "Create or update a launch from a YAML spec (a refused spec changes nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            size = file.stat().st_size
            if size > MAX_SPEC_BYTES:
                raise SpecError([f"spec: {size:,} bytes is over the limit of {MAX_SPEC_BYTES:,}"])
            result = import_launch_spec(raw=file.read_bytes(), actor="import_launch")
        except OSError as exc:
            raise CommandError(f"{file}: {exc.strerror}") from None
        except SpecError as exc:
            raise CommandError(
                f"{file}: the spec was refused, nothing was changed:\n{exc}"
            ) from None
        for line in result.summary():
            self.stdout.write(line)
