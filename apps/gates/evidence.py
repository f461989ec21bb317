"""Evidence files, stored once by SHA-256 under EVIDENCE_ROOT."""

import hashlib
import os
from pathlib import Path

from django.conf import settings

from apps.gates.models import Evidence


def store_evidence(*, data: bytes, name: str = "", content_type: str = "") -> Evidence:
    """Write the bytes once (content-addressed) and return their Evidence row.

    The file is written before the row, atomically (temp file + rename), so a row never points
    at a partial file; an orphan file left by a rolled-back transaction is harmless.
    """
    digest = hashlib.sha256(data).hexdigest()
    relative = Path(digest[:2]) / digest[2:4] / digest
    path = Path(settings.MEDIA_ROOT) / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(f".{os.getpid()}.tmp")
        temp.write_bytes(data)
        temp.replace(path)
    evidence, _ = Evidence.objects.get_or_create(
        sha256=digest,
        defaults={
            "size": len(data),
            "name": os.path.basename(name)[:255],
            "content_type": content_type[:100],
            "path": str(relative),
        },
    )
    return evidence


def read_evidence(evidence: Evidence) -> bytes:
    return (Path(settings.MEDIA_ROOT) / evidence.path).read_bytes()
