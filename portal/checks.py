"""System checks of the portal's signing identity (portal/signing.py), with DEBUG off, and of the
bucket that keeps files under retention (portal/storage.py), whenever retention is configured.

signing.E001  no identity configured
signing.E002  the identity does not load (the message names the variable to fix)
signing.E003  the certificate has expired
signing.W001  the certificate is self-signed (silenced by SIGNING_ACCEPT_SELF_SIGNED=1, which
              `make prod` sets for the trial pair it makes)
signing.W002  the certificate expires within 30 days
storage.W001  EVIDENCE_OBJECT_LOCK_DAYS is set but the bucket has no Object Lock
storage.W002  EVIDENCE_OBJECT_LOCK_DAYS is set but the bucket could not be asked
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError
from cryptography import x509
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from portal import signing, storage

EXPIRY_WARNING = timedelta(days=30)
HINT = "Set SIGNING_KEY_FILE and SIGNING_CERT_FILE (PEM) or SIGNING_PKCS12_FILE; see README."
BUCKET_HINT = "Check S3_BUCKET, S3_ENDPOINT_URL, S3_REGION and the S3 credentials."


@register("signing")
def check_signing_identity(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Packets, exports and checkpoints are signed: production needs a loadable, current,
    CA-issued identity."""
    if settings.DEBUG:
        return []  # a self-signed development pair is made on first use
    if not signing.configured():
        return [Error("no signing identity is configured", hint=HINT, id="signing.E001")]
    try:
        found = signing.identity()
    except Exception as exc:  # whatever the files hold, the check reports it, naming the variable
        return [Error(f"{_culprit(exc)}: {exc}", hint=HINT, id="signing.E002")]
    return _certificate_messages(found, datetime.now(UTC))


def _certificate_messages(found: signing.Identity, now: datetime) -> list[CheckMessage]:
    certificate, messages = found.certificate, []
    where = f"{found.source} (SHA-256 {found.fingerprint})"
    if certificate.not_valid_after_utc <= now:
        messages.append(Error(f"the signing certificate {where} expired on "
                              f"{certificate.not_valid_after_utc:%Y-%m-%d}",
                              id="signing.E003"))  # fmt: skip
    elif certificate.not_valid_after_utc - now < EXPIRY_WARNING:
        messages.append(Warning(f"the signing certificate {where} expires on "
                                f"{certificate.not_valid_after_utc:%Y-%m-%d}",
                                hint="Renew it before then.", id="signing.W002"))  # fmt: skip
    if found.self_signed:
        messages.append(Warning(
            f"the signing certificate {where} is self-signed: validators cannot tie packets "
            "and exports to your organisation", hint="Use a certificate your CA issued.",
            id="signing.W001",
        ))  # fmt: skip
    return messages


def _culprit(exc: Exception) -> str:
    """The SIGNING_* variable(s) a loading error is about."""
    if isinstance(exc, OSError) and exc.filename:
        for name in ("SIGNING_PKCS12_FILE", "SIGNING_KEY_FILE", "SIGNING_CERT_FILE",
                     "SIGNING_CHAIN_FILE"):  # fmt: skip
            if getattr(settings, name) and Path(getattr(settings, name)) == Path(exc.filename):
                return name
    if settings.SIGNING_PKCS12_FILE:
        return "SIGNING_PKCS12_FILE / SIGNING_KEY_PASSPHRASE"
    if "does not match" in str(exc):
        return "SIGNING_KEY_FILE / SIGNING_CERT_FILE"
    if not _loads_certificates(settings.SIGNING_CERT_FILE):
        return "SIGNING_CERT_FILE"
    if settings.SIGNING_CHAIN_FILE and not _loads_certificates(settings.SIGNING_CHAIN_FILE):
        return "SIGNING_CHAIN_FILE"
    if "password" in str(exc).lower() or "decrypt" in str(exc).lower():
        return "SIGNING_KEY_PASSPHRASE"
    return "SIGNING_KEY_FILE"


def _loads_certificates(path: str) -> bool:
    try:
        return bool(x509.load_pem_x509_certificates(Path(path).read_bytes()))
    except (OSError, ValueError):
        return False


@register("storage")
def check_retention_bucket(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Retention only holds in a bucket created with Object Lock; elsewhere S3 refuses the writes.

    Runs only with STORAGE_BACKEND=s3 and EVIDENCE_OBJECT_LOCK_DAYS set (the only case where the
    kept files are a RetainedS3Storage); one request per bucket, with short timeouts.
    """
    retained = {}
    for kind in (storage.EVIDENCE, storage.PACKETS, storage.EXPORTS, storage.SPECS):
        kept = storage.storage(kind)
        if isinstance(kept, storage.RetainedS3Storage):
            retained.setdefault(kept.bucket_name, kept)
    return [message for kept in retained.values() for message in _lock_messages(kept)]


def _lock_messages(kept: storage.RetainedS3Storage) -> list[CheckMessage]:
    bucket = f"S3 bucket {kept.bucket_name!r}"
    try:
        enabled = kept.lock_configuration().get("ObjectLockEnabled") == "Enabled"
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code != "ObjectLockConfigurationNotFoundError":
            return [Warning(f"could not ask {bucket} for its Object Lock configuration: {exc}",
                            hint=BUCKET_HINT, id="storage.W002")]  # fmt: skip
        enabled = False
    except BotoCoreError as exc:  # no route, no credentials, a timeout
        return [Warning(f"could not reach {bucket}: {exc}", hint=BUCKET_HINT, id="storage.W002")]
    if enabled:
        return []
    return [Warning(
        f"EVIDENCE_OBJECT_LOCK_DAYS is set but {bucket} has no Object Lock: S3 refuses the "
        "portal's writes of evidence, packets and exports",
        hint="Enable Object Lock on the bucket (with versioning), or unset "
        "EVIDENCE_OBJECT_LOCK_DAYS.", id="storage.W001",
    )]  # fmt: skip
