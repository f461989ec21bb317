"""Moving the files the portal already keeps on a local disk into its configured storage (the S3
bucket when STORAGE_BACKEND=s3): `manage.py migrate_files`.

Every row that names a kept file is visited: evidence, packets, summary reports, built exports,
and the applied spec texts of the audit record (their `launch.imported` events hold the text and
its SHA-256, so that text is the source, not a local file). A local file is hashed in chunks and
refused when its SHA-256 is not the row's; what lands is read back and hashed again.

A name the destination already holds is verified by reading it back and hashing it, never
uploaded again: an ETag is no SHA-256 (a multipart upload's is not even an MD5 of the bytes), and
a run is rare. So a run after an interruption copies only the rest. Local files are never
deleted: the operator removes them after checking.
"""

import hashlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile

from apps.audit.models import AuditEvent
from apps.gates.models import Evidence
from apps.launches.models import Launch
from apps.reports.models import ExportJob, Packet
from apps.specs.services import spec_name
from portal import storage

KINDS = ("evidence", "packets", "summaries", "exports", "specs")


class Outcome(StrEnum):
    COPIED = "copied"
    WOULD_COPY = "would copy"  # --dry-run
    THERE = "already there"
    MISSING = "missing locally"
    MISMATCHED = "mismatched"


FAILED = (Outcome.MISSING, Outcome.MISMATCHED)


@dataclass(frozen=True)
class Kept:
    """One file a row names: its report kind, named storage, stored name and expected SHA-256."""

    kind: str
    storage: str
    name: str
    sha256: str
    text: str | None = None  # a spec text comes from its audit event, not from a local file


@dataclass
class Report:
    counts: dict[str, Counter] = field(default_factory=lambda: {k: Counter() for k in KINDS})
    problems: list[str] = field(default_factory=list)

    def summary(self, dry_run: bool) -> list[str]:
        first = Outcome.WOULD_COPY if dry_run else Outcome.COPIED
        shown = (first, Outcome.THERE, Outcome.MISSING, Outcome.MISMATCHED)
        return [f"{kind}: " + ", ".join(f"{counts[o]} {o}" for o in shown)
                for kind, counts in self.counts.items()]  # fmt: skip


def kept_files() -> Iterator[Kept]:
    """Every file a row names, kind by kind, each name once."""
    rows = (
        ("evidence", storage.EVIDENCE, Evidence.objects.values_list("path", "sha256")),
        ("packets", storage.PACKETS, Packet.objects.values_list("path", "sha256")),
        ("summaries", storage.PACKETS, Launch.objects.exclude(summary_path="")
         .values_list("summary_path", "summary_sha256")),
        ("exports", storage.EXPORTS, ExportJob.objects.exclude(path="")
         .values_list("path", "sha256")),
    )  # fmt: skip
    for kind, named, query in rows:
        for name, sha256 in query.order_by("pk").iterator():
            yield Kept(kind, named, name, sha256)
    yield from spec_texts()


def spec_texts() -> Iterator[Kept]:
    """The applied spec texts, one per SHA-256 (a spec applied twice is one file)."""
    seen = set()
    events = AuditEvent.objects.filter(action="launch.imported").order_by("pk")
    for data in events.values_list("data", flat=True).iterator(chunk_size=100):
        sha256 = data.get("sha256", "")
        if sha256 and sha256 not in seen:
            seen.add(sha256)
            yield Kept("specs", storage.SPECS, spec_name(sha256), sha256, data.get("spec"))


def migrate_files(*, source: Path | None = None, dry_run: bool = False, limit: int | None = None,
                  say: Callable[[str], None] = print) -> Report:  # fmt: skip
    """Copy every kept file from `source` (MEDIA_ROOT when None) into its configured storage.

    `limit` stops after that many copies (a trial run); a later run goes on from there. A missing
    or mismatched file is named through `say` and counted; the rest are still copied.
    """
    local = storage.LocalStorage(location=source)
    report = Report()
    for item in kept_files():
        if limit is not None and report_copies(report) >= limit:
            break
        outcome, why = migrate_one(item, local, dry_run=dry_run)
        report.counts[item.kind][outcome] += 1
        if outcome in FAILED:
            report.problems.append(f"{outcome}: {item.kind} {item.name} ({why})")
            say(report.problems[-1])
        elif outcome == Outcome.WOULD_COPY:
            say(f"would copy: {item.kind} {item.name}")
    return report


def report_copies(report: Report) -> int:
    return sum(c[Outcome.COPIED] + c[Outcome.WOULD_COPY] for c in report.counts.values())


def migrate_one(item: Kept, local: storage.LocalStorage, *, dry_run: bool) -> tuple[Outcome, str]:
    """Copy one file unless its storage holds it already; (what happened, why when it failed)."""
    if storage.storage(item.storage).exists(item.name):
        found = stored_sha256(item)
        if found != item.sha256:
            return Outcome.MISMATCHED, f"the destination holds SHA-256 {found}, not {item.sha256}"
        return Outcome.THERE, ""
    source = open_source(item, local)
    if source is None:
        return Outcome.MISSING, f"not under {local.location}"
    with source:
        found = sha256_of(source)
        if found != item.sha256:
            return Outcome.MISMATCHED, f"the local file has SHA-256 {found}, not {item.sha256}"
        if dry_run:
            return Outcome.WOULD_COPY, ""
        source.seek(0)
        return upload(item, source)


def upload(item: Kept, source: File) -> tuple[Outcome, str]:
    """Store the verified source under its name, then read it back from the destination."""
    name = storage.save_once(item.storage, item.name, source)
    if name != item.name:
        return Outcome.MISMATCHED, f"the destination stored it as {name!r}"
    found = stored_sha256(item)
    if found != item.sha256:
        return Outcome.MISMATCHED, f"read back from the destination, SHA-256 {found}"
    return Outcome.COPIED, ""


def open_source(item: Kept, local: storage.LocalStorage) -> File | None:
    """The bytes to copy: a spec's text from its audit event, else the local file (None: gone)."""
    if item.text is not None:
        return ContentFile(item.text.encode(), name=item.name)
    if not local.exists(item.name):
        return None
    return local.open(item.name, "rb")


def stored_sha256(item: Kept) -> str:
    """SHA-256 of the copy in the destination, streamed in chunks of storage.CHUNK."""
    digest = hashlib.sha256()
    for chunk in storage.chunks(item.storage, item.name):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_of(source: File) -> str:
    digest = hashlib.sha256()
    for chunk in iter(lambda: source.read(storage.CHUNK), b""):
        digest.update(chunk)
    return digest.hexdigest()
