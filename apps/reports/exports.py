"""The evidence export as an audited action: build to a temporary file, then record it."""

import hashlib
import tempfile
from datetime import datetime

from django.db import transaction

from apps.audit.services import record
from apps.launches.models import Launch
from apps.reports.export import export_evidence, manifest_bytes


def export_audited(
    *,
    launch: Launch,
    actor,
    since: datetime | None = None,
    until: datetime | None = None,
    categories=None,
):
    """Write the export to a temporary file (rewound) and audit `evidence.exported`.

    The file's SHA-256 and the manifest's self-digest are in the event, so an auditor can later
    show the portal issued this very archive.
    """
    out = tempfile.TemporaryFile(suffix=".zip")  # noqa: SIM115 - the response closes it
    manifest = export_evidence(launch, out, since=since, until=until, categories=categories)
    out.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: out.read(1 << 20), b""):
        digest.update(block)
    out.seek(0)
    data = {
        "zip_sha256": digest.hexdigest(),
        "manifest_sha256": manifest["manifest_sha256"],
        "files": len(manifest["files"]),
        "range": manifest["range"],
        "categories": manifest["categories"],
        "manifest_size": len(manifest_bytes(manifest)),
    }
    with transaction.atomic():
        record(
            actor=actor,
            action="evidence.exported",
            launch_slug=launch.slug,
            obj_type="export",
            obj_key=data["zip_sha256"],
            data=data,
        )
    return out, data
