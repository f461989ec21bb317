"""Where the portal keeps its files: named Django storages, each file written once, read in chunks.

`evidence` (report evidence, attestation uploads), `packets` (sign-off packets, summary reports)
and `exports` (export ZIPs) are entries of settings.STORAGES: the local folder under MEDIA_ROOT
by default, an S3 bucket when STORAGE_BACKEND=s3. Names are content-addressed (they carry the
SHA-256), so a name already stored holds the same bytes and is never written again.
No other module builds a path under MEDIA_ROOT or opens a stored file (tests/test_storage_paths.py).
"""

import os
import tempfile
from pathlib import Path

from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.http import Http404

EVIDENCE, PACKETS, EXPORTS = "evidence", "packets", "exports"
CHUNK = 1 << 20


class MissingFile(Http404):
    """A file a row names but its storage does not hold; a view answering it gives a 404."""


def storage(kind: str) -> Storage:
    return storages[kind]


def save_once(kind: str, name: str, content: bytes | File) -> str:
    """Store `content` under `name` unless the name is already there; return the name.

    A File is read in chunks (an export's temporary file), so memory stays flat.
    """
    store = storages[kind]
    if not store.exists(name):
        name = store.save(name, content if isinstance(content, File) else ContentFile(content))
    return name


def open_stored(kind: str, name: str) -> File:
    """The stored file opened for reading (close it, or hand it to a FileResponse)."""
    try:
        return storages[kind].open(name, "rb")
    except FileNotFoundError:
        raise MissingFile(f"{kind} file {name!r} is missing from its storage") from None


def read_stored(kind: str, name: str) -> bytes:
    with open_stored(kind, name) as stored:
        return stored.read()


def chunks(kind: str, name: str):
    """The stored file's bytes in chunks of CHUNK, closed when done."""
    with open_stored(kind, name) as stored:
        yield from iter(lambda: stored.read(CHUNK), b"")


def delete_unclaimed(kind: str, name: str) -> None:
    """Remove a file no row names (an export whose job another attempt took over)."""
    storages[kind].delete(name)


class LocalStorage(FileSystemStorage):
    """Files under MEDIA_ROOT, each written to a temporary name and renamed when whole.

    A reader (or a later `save_once`) never sees a partial file; stored files are read-only.
    """

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        return name  # content-addressed: an existing name holds the same bytes

    def _save(self, name: str, content) -> str:
        path = Path(self.path(name))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in content.chunks(CHUNK):
                    out.write(chunk)
            os.chmod(temp, 0o444)
            os.replace(temp, path)
        finally:
            Path(temp).unlink(missing_ok=True)
        return name
