"""Where the portal keeps its files: named Django storages, each file written once, read in chunks.

`evidence` (report evidence, attestation uploads), `packets` (sign-off packets, summary reports)
and `exports` (export ZIPs) are entries of settings.STORAGES: the local folder under MEDIA_ROOT
by default, an S3 bucket when STORAGE_BACKEND=s3. Names are content-addressed (they carry the
SHA-256), so a name already stored holds the same bytes and is never written again.
No other module builds a path under MEDIA_ROOT or opens a stored file (tests/test_storage_paths.py).

Downloads leave through `download_response`: streamed through Django, or (DOWNLOADS=presigned) a
redirect to a short-lived S3 URL. With EVIDENCE_OBJECT_LOCK_DAYS each new object is written under
S3 Object Lock retention (RetainedS3Storage), and the portal never tries to delete one.
"""

import os
import tempfile
from datetime import timedelta
from pathlib import Path

from botocore.config import Config
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.http import content_disposition_header
from storages.backends.s3 import S3Storage

EVIDENCE, PACKETS, EXPORTS = "evidence", "packets", "exports"
SPECS = "specs"  # applied launch spec texts, specs/<sha256[:2]>/<sha256>.yaml
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
    """Remove a file no row names (an export whose job another attempt took over).

    Under retention the orphan stays: S3 refuses to delete a locked version, and a plain delete
    would only hide it behind a delete marker. The bucket's lifecycle rules may expire it later.
    """
    store = storages[kind]
    if not isinstance(store, RetainedS3Storage):
        store.delete(name)


def download_response(kind: str, name: str, *, filename: str, content_type: str) -> HttpResponse:
    """The stored file as a download, for a view that has already checked who may have it.

    DOWNLOADS=stream (the default) streams it through Django; DOWNLOADS=presigned answers with a
    redirect to a URL of the bucket, valid PRESIGNED_URL_SECONDS, that makes the browser save it
    under `filename`, so large files never pass through the web process.
    """
    if settings.DOWNLOADS == "presigned":
        return _presigned_redirect(kind, name, filename=filename, content_type=content_type)
    return FileResponse(
        open_stored(kind, name), as_attachment=True, filename=filename, content_type=content_type
    )


def _presigned_redirect(
    kind: str, name: str, *, filename: str, content_type: str
) -> HttpResponseRedirect:
    store = storages[kind]
    if not store.exists(name):  # a 404 here, as when streaming, not a link to an S3 error
        raise MissingFile(f"{kind} file {name!r} is missing from its storage")
    answer = {
        "ResponseContentDisposition": content_disposition_header(True, filename),
        "ResponseContentType": content_type,
    }
    url = store.url(name, parameters=answer, expire=settings.PRESIGNED_URL_SECONDS)
    response = HttpResponseRedirect(url)
    response["Cache-Control"] = "no-store"  # the URL is a short-lived credential
    return response


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


class RetainedS3Storage(S3Storage):
    """An S3 bucket where each new object is written under Object Lock retention.

    Until `retain_days` have passed, S3 refuses to delete or overwrite the object's version
    (COMPLIANCE: nobody can; GOVERNANCE: only with s3:BypassGovernanceRetention). The bucket must
    have been created with Object Lock enabled (the `storage` system check looks).
    """

    def get_default_settings(self) -> dict:
        return {**super().get_default_settings(), "retain_days": 0, "retain_mode": "COMPLIANCE"}

    def get_object_parameters(self, name: str) -> dict:
        return {
            **super().get_object_parameters(name),
            "ObjectLockMode": self.retain_mode,
            "ObjectLockRetainUntilDate": timezone.now() + timedelta(days=self.retain_days),
            # S3 refuses a locked upload without Content-MD5 or a checksum: ask for one even
            # where AWS_REQUEST_CHECKSUM_CALCULATION=when_required turns the default off.
            "ChecksumAlgorithm": "CRC32",
        }

    def lock_configuration(self) -> dict:
        """The bucket's ObjectLockConfiguration, asked once with short timeouts (a start-up check
        must not hang on an unreachable endpoint); raises botocore's errors."""
        quick = Config(connect_timeout=5, read_timeout=5, retries={"total_max_attempts": 1})
        client = self._create_session().client(
            "s3",
            region_name=self.region_name,
            use_ssl=self.use_ssl,
            endpoint_url=self.endpoint_url,
            config=self.client_config.merge(quick),
            verify=self.verify,
        )
        answer = client.get_object_lock_configuration(Bucket=self.bucket_name)
        return answer["ObjectLockConfiguration"]
