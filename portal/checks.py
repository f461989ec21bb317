"""System checks of the portal's signing identity (portal/signing.py), with DEBUG off.

signing.E001  no identity configured
signing.E002  the identity does not load (the message names the variable to fix)
signing.E003  the certificate has expired
signing.W001  the certificate is self-signed (silenced by SIGNING_ACCEPT_SELF_SIGNED=1, which
              `make prod` sets for the trial pair it makes)
signing.W002  the certificate expires within 30 days
"""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from portal import signing

EXPIRY_WARNING = timedelta(days=30)
HINT = "Set SIGNING_KEY_FILE and SIGNING_CERT_FILE (PEM) or SIGNING_PKCS12_FILE; see README."


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
