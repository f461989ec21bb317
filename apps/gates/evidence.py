"""Evidence files, stored once by SHA-256 in the `evidence` storage (portal/storage.py)."""

import hashlib
import os

from apps.gates.models import Evidence
from portal import storage


def store_evidence(*, data: bytes, name: str = "", content_type: str = "") -> Evidence:
    """Write the bytes once (content-addressed) and return their Evidence row.

    The file is stored whole before the row is written, so a row never points at a partial
    file; an orphan file left by a rolled-back transaction is harmless.
    """
    digest = hashlib.sha256(data).hexdigest()
    relative = storage.save_once(storage.EVIDENCE, f"{digest[:2]}/{digest[2:4]}/{digest}", data)
    evidence, _ = Evidence.objects.get_or_create(
        sha256=digest,
        defaults={
            "size": len(data),
            "name": os.path.basename(name)[:255],
            "content_type": content_type[:100],
            "path": relative,
        },
    )
    return evidence


def read_evidence(evidence: Evidence) -> bytes:
    return storage.read_stored(storage.EVIDENCE, evidence.path)
