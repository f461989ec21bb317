"""The evidence export as an audited action: streamed now, or built by a task for large launches.

Small exports are written to a temporary file and streamed to the browser. An export whose raw
evidence is larger than EXPORT_INLINE_MAX_BYTES (default 256 MiB) is built by a Celery task
into the `exports` storage instead, with a download link when it is ready: a request never spends
minutes compressing gigabytes.
"""

import hashlib
import tempfile
from datetime import datetime

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from apps.audit.services import record
from apps.gates.models import Evidence
from apps.launches.models import Launch
from apps.reports.dispatch import BUILD_EXPORT, build_later
from apps.reports.exports.archive import (
    Scope,
    export_evidence,
    manifest_bytes,
    manifest_sha256,
    measurements,
)
from apps.reports.models import ExportJob, IssuedExport, actor_name
from portal import storage

EXPORT_DIR = "exports"
INLINE_MAX_BYTES = 256 * 1024 * 1024


def inline_max_bytes() -> int:
    return getattr(settings, "EXPORT_INLINE_MAX_BYTES", INLINE_MAX_BYTES)


def evidence_size(launch: Launch, *, since=None, until=None, categories=None) -> tuple[int, int]:
    """(files, bytes) of the raw evidence an export with these filters carries; one query."""
    scope = Scope(launch, since, until, tuple(categories) if categories else None)
    shas = measurements(scope).exclude(evidence=None).values("evidence_id")
    totals = Evidence.objects.filter(sha256__in=shas).aggregate(files=Count("pk"), size=Sum("size"))
    return totals["files"], totals["size"] or 0


def export_audited(
    *,
    launch: Launch,
    actor,
    since: datetime | None = None,
    until: datetime | None = None,
    categories=None,
    packet=None,
):
    """Write the export to a temporary file (rewound), record it as issued and audit
    `evidence.exported`.

    The file's SHA-256 and its manifest's are in the event and the IssuedExport row, so anyone
    holding the archive can later ask /verify/ whether the portal issued it.
    """
    out = tempfile.TemporaryFile(suffix=".zip")  # noqa: SIM115 - the response closes it
    manifest = export_evidence(
        launch, out, since=since, until=until, categories=categories, packet=packet
    )
    out.seek(0)
    data = export_data(manifest, sha256_of(out))
    size = out.tell()
    out.seek(0)
    with transaction.atomic():
        record_issued(launch=launch, data=data, size=size)
        record(actor=actor, action="evidence.exported", launch_slug=launch.slug,
               obj_type="export", obj_key=data["zip_sha256"], data=data)  # fmt: skip
    return out, data


def record_issued(*, launch: Launch, data: dict, size: int, job=None) -> IssuedExport:
    """The row /verify/ finds an export by; written in the `evidence.exported` transaction."""
    return IssuedExport.objects.create(
        launch=launch, sha256=data["zip_sha256"], manifest_sha256=data["manifest_sha256"],
        size=size, issued_at=timezone.now(), job=job,
    )  # fmt: skip


def export_data(manifest: dict, zip_sha256: str) -> dict:
    """What the `evidence.exported` event says of an archive."""
    return {
        "zip_sha256": zip_sha256,
        "manifest_sha256": manifest_sha256(manifest),
        "certificate_sha256": manifest["signing"]["certificate_sha256"],
        "files": len(manifest["files"]),
        "range": manifest["range"],
        "categories": manifest["categories"],
        "manifest_size": len(manifest_bytes(manifest)),
    }


# --- built in the background -------------------------------------------------------------------


def request_export(*, launch: Launch, user, since=None, until=None, categories=None) -> ExportJob:
    """Queue an export for `user` (the caller checked can_export); audited as requested."""
    filters = {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "categories": list(categories or []),
    }
    with transaction.atomic():
        job = ExportJob.objects.create(launch=launch, requested_by=user, filters=filters,
                                       requested_by_name=actor_name(user),
                                       requested_at=timezone.now())  # fmt: skip
        record(actor=user, action="evidence.export_requested", launch_slug=launch.slug,
               obj_type="export_job", obj_key=job.pk, data=filters)  # fmt: skip
        build_later(BUILD_EXPORT, job.pk)
    return job


def run_export_job(*, job_id: int) -> ExportJob | None:
    """Write the job's ZIP to the `exports` storage with constant memory; audit it once.

    The archive is written to a local temporary file and stored in chunks when whole; a
    redelivered task for a done job does nothing.
    """
    attempt = ExportJob.claim(job_id, timezone.now())
    if attempt is None:
        return None
    job = ExportJob.objects.select_related("launch", "requested_by").get(pk=job_id)
    try:
        name, sha256, size, manifest = _write_archive(job)
    except Exception as exc:
        ExportJob.fail(job_id, attempt, exc)
        raise
    data = {**export_data(manifest, sha256), "job": job.pk}
    with transaction.atomic():
        if ExportJob.finish(job_id, attempt, path=name, sha256=sha256, size=size):
            record_issued(launch=job.launch, data=data, size=size, job=job)
            record(actor=job.requested_by or job.requested_by_name, action="evidence.exported",
                   launch_slug=job.launch.slug, obj_type="export", obj_key=sha256,
                   data=data)  # fmt: skip
            job.refresh_from_db()
            return job
    storage.delete_unclaimed(storage.EXPORTS, name)  # a later attempt took the job over
    return None


def _write_archive(job: ExportJob) -> tuple[str, str, int, dict]:
    """(stored name, SHA-256, size, manifest) of the job's ZIP, built in a temporary file."""
    filters = job.filters or {}
    with tempfile.TemporaryFile(suffix=".zip") as out:
        manifest = export_evidence(
            job.launch,
            out,
            since=_moment(filters.get("since")),
            until=_moment(filters.get("until")),
            categories=filters.get("categories") or None,
        )
        out.seek(0)
        sha256 = sha256_of(out)
        size = out.tell()
        name = storage.save_once(storage.EXPORTS, f"{EXPORT_DIR}/{job.pk}-{sha256}.zip", File(out))
    return name, sha256, size, manifest


def sha256_of(stream, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file object, read in chunks."""
    digest = hashlib.sha256()
    for block in iter(lambda: stream.read(chunk), b""):
        digest.update(block)
    return digest.hexdigest()


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def record_download(*, job: ExportJob, user) -> None:
    """Audit that `user` takes a built export away."""
    with transaction.atomic():
        record(actor=user, action="evidence.export_downloaded", launch_slug=job.launch.slug,
               obj_type="export", obj_key=job.sha256, data={"job": job.pk})  # fmt: skip
