"""Show the portal's signing identity: where it comes from, subject, fingerprint, expiry.

`make run` calls it on start (the first time, it says the self-signed development pair was just
made); `make prod` calls it with --make-self-signed when no SIGNING_* is given.
"""

from pathlib import Path

from cryptography.hazmat.primitives import serialization
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portal import signing


class Command(BaseCommand):
    help = "Print the signing identity: path, subject, SHA-256 fingerprint, expiry, self-signed."
    requires_system_checks = []  # it is how an operator looks at an identity the checks refuse

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--make-self-signed", action="store_true",
            help="First make SIGNING_KEY_FILE and SIGNING_CERT_FILE, a self-signed pair, when "
            "neither exists (a trial only: validators cannot tie it to your organisation).",
        )  # fmt: skip

    def handle(self, *args, make_self_signed: bool = False, **options) -> None:
        if make_self_signed:
            self.make_pair(settings.SIGNING_KEY_FILE, settings.SIGNING_CERT_FILE)
        # signing.identity() makes this pair on first use with DEBUG and nothing configured.
        development = Path(settings.VAR_DIR) / "signing" / "portal-cert.pem"
        first = settings.DEBUG and not signing.configured() and not development.exists()
        try:
            found = signing.identity()
        except Exception as exc:  # a bad file or passphrase: say which, and stop the script
            raise CommandError(f"signing identity: {exc}") from exc
        if first:
            self.stdout.write(f"Made a self-signed development signing pair under "
                              f"{development.parent}/ (first start; DEBUG only)")  # fmt: skip
        certificate = found.certificate
        self.stdout.write(
            f"Signing identity: {found.source}\n"
            f"  subject      {certificate.subject.rfc4514_string()}\n"
            f"  SHA-256      {signing.grouped(found.fingerprint)}\n"
            f"  not after    {certificate.not_valid_after_utc:%Y-%m-%d %H:%M} UTC\n"
            f"  self-signed  {'yes' if found.self_signed else 'no'}"
        )

    def make_pair(self, key_file: str, cert_file: str) -> None:
        if not (key_file and cert_file):
            raise CommandError("--make-self-signed needs SIGNING_KEY_FILE and SIGNING_CERT_FILE")
        key_path, cert_path = Path(key_file), Path(cert_file)
        if key_path.exists() and cert_path.exists():
            return
        if key_path.exists() or cert_path.exists():
            raise CommandError(f"only one of {key_path} and {cert_path} exists: not overwriting")
        key, certificate = signing.make_self_signed("Launch Portal (self-signed trial)")
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        key_path.parent.mkdir(parents=True, exist_ok=True)
        _write(key_path, key.private_bytes(serialization.Encoding.PEM,
               serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
        _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
        self.stdout.write(f"Made a self-signed signing pair: {key_path}, {cert_path}")


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    temporary.chmod(0o600)
    temporary.replace(path)
