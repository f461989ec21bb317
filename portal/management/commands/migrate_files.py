"""Copy the files kept on a local disk into the configured storage (portal/file_migration.py).

Run it after setting STORAGE_BACKEND=s3 and the S3_* variables; run it again after an interruption.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portal.file_migration import migrate_files


class Command(BaseCommand):
    help = (
        "Copy every kept file (evidence, packets, summary reports, exports, spec texts) from a "
        "local folder into the configured storage, verified by SHA-256; never deletes local files."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--from", dest="source", type=Path, default=None,
                            help="The local folder the rows' paths are relative to "
                            "(default: $EVIDENCE_ROOT, or var/evidence).")  # fmt: skip
        parser.add_argument("--dry-run", action="store_true",
                            help="List what would be copied; upload nothing.")  # fmt: skip
        parser.add_argument("--limit", type=int, default=None,
                            help="Stop after copying N files (run again to go on).")  # fmt: skip

    def handle(self, *args, source: Path | None, dry_run: bool, limit: int | None, **options):
        report = migrate_files(source=source, dry_run=dry_run, limit=limit, say=self.stdout.write)
        for line in report.summary(dry_run):
            self.stdout.write(line)
        self.stdout.write(
            "Local files were left in place: remove them once the copies are checked."
        )
        if report.problems:
            raise CommandError(
                f"{len(report.problems)} file(s) missing or mismatched (named above)"
            )
