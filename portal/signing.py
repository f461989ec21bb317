"""The portal's signing identity: one private key and its X.509 certificate chain, loaded once.

Packets (PAdES), export manifests and audit checkpoints are signed with it, so an auditor can
check them without trusting the portal: against the certificate, pinned by its SHA-256
fingerprint (printed on every packet, in every manifest, on /verify/ and in README).

Configured by SIGNING_KEY_FILE + SIGNING_CERT_FILE (PEM; optional SIGNING_CHAIN_FILE and
SIGNING_KEY_PASSPHRASE) or SIGNING_PKCS12_FILE (+ SIGNING_KEY_PASSPHRASE). With DEBUG and none
configured, a self-signed pair is made under PORTAL_VAR_DIR/signing/ on first use, and said so.
Production without one fails the `signing` system check (portal/checks.py).
"""

import base64
import hashlib
import json
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)
_lock = threading.Lock()


@dataclass(frozen=True)
class Identity:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]  # intermediates, issuer first; empty when self-signed
    source: str  # where it came from, for messages

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate's DER, in hex: what an auditor pins."""
        return fingerprint(self.certificate)

    @property
    def self_signed(self) -> bool:
        return self.certificate.issuer == self.certificate.subject

    def certificate_pem(self) -> bytes:
        chain = (self.certificate, *self.chain)
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)


def fingerprint(certificate: x509.Certificate) -> str:
    return certificate.fingerprint(hashes.SHA256()).hex()


def grouped(fingerprint_hex: str) -> str:
    """AB:CD:... as certificate viewers show a fingerprint."""
    upper = fingerprint_hex.upper()
    return ":".join(upper[i : i + 2] for i in range(0, len(upper), 2))


def configured() -> bool:
    return bool(settings.SIGNING_PKCS12_FILE or settings.SIGNING_KEY_FILE)


@cache
def identity() -> Identity:
    """The configured identity, or in development a self-signed one made on first use."""
    if settings.SIGNING_PKCS12_FILE:
        return _from_pkcs12(Path(settings.SIGNING_PKCS12_FILE))
    if settings.SIGNING_KEY_FILE:
        return _from_pem(Path(settings.SIGNING_KEY_FILE), Path(settings.SIGNING_CERT_FILE))
    if not settings.DEBUG:
        raise ImproperlyConfigured(
            "no signing identity: set SIGNING_KEY_FILE and SIGNING_CERT_FILE (or "
            "SIGNING_PKCS12_FILE); packets, exports and audit checkpoints are signed with it"
        )
    return _development_identity(Path(settings.VAR_DIR) / "signing")


def _passphrase() -> bytes | None:
    return settings.SIGNING_KEY_PASSPHRASE.encode() if settings.SIGNING_KEY_PASSPHRASE else None


def _from_pem(key_file: Path, cert_file: Path) -> Identity:
    if not settings.SIGNING_CERT_FILE:
        raise ImproperlyConfigured("SIGNING_KEY_FILE is set but SIGNING_CERT_FILE is not")
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=_passphrase())
    certificates = x509.load_pem_x509_certificates(cert_file.read_bytes())
    chain = list(certificates[1:])
    if settings.SIGNING_CHAIN_FILE:
        chain += x509.load_pem_x509_certificates(Path(settings.SIGNING_CHAIN_FILE).read_bytes())
    return _checked(Identity(key, certificates[0], tuple(chain), str(cert_file)))


def _from_pkcs12(path: Path) -> Identity:
    key, certificate, extra = pkcs12.load_key_and_certificates(path.read_bytes(), _passphrase())
    if key is None or certificate is None:
        raise ImproperlyConfigured(f"SIGNING_PKCS12_FILE {path} holds no key and certificate")
    return _checked(Identity(key, certificate, tuple(extra or ()), str(path)))


def _checked(found: Identity) -> Identity:
    if not isinstance(found.key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise ImproperlyConfigured("the signing key must be RSA or ECDSA")
    if found.key.public_key().public_numbers() != found.certificate.public_key().public_numbers():
        raise ImproperlyConfigured(f"the signing key does not match the certificate {found.source}")
    return found


def _development_identity(folder: Path) -> Identity:
    key_file, cert_file = folder / "portal-key.pem", folder / "portal-cert.pem"
    with _lock:
        if not (key_file.exists() and cert_file.exists()):
            folder.mkdir(parents=True, exist_ok=True)
            key, certificate = make_self_signed("Launch Portal (development)")
            _write(key_file, key.private_bytes(serialization.Encoding.PEM,
                   serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
            _write(cert_file, certificate.public_bytes(serialization.Encoding.PEM))
            log.warning("signing: made a self-signed development certificate %s (SHA-256 %s)",
                        cert_file, fingerprint(certificate))  # fmt: skip
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    certificate = x509.load_pem_x509_certificate(cert_file.read_bytes())
    return _checked(Identity(key, certificate, (), str(cert_file)))


def _write(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(data)
    temporary.chmod(0o600)
    temporary.replace(path)


def make_self_signed(common_name: str, *, days: int = 825, now: datetime | None = None):
    """A new RSA-3072 key and a self-signed certificate usable for document signing."""
    now = now or datetime.now(UTC)
    key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Launch Portal"),
    ])  # fmt: skip
    usage = x509.KeyUsage(
        digital_signature=True, content_commitment=True, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, certificate


# --- detached signatures over bytes (export manifests, audit checkpoints) ---------------------


def sign(data: bytes) -> str:
    """A detached JWS (RFC 7515, compact, payload left out) over `data`: RS256 or ES256, the
    certificate's SHA-256 in the header (`x5t#S256`). Checked by verify() and by the export's
    verify.py with nothing but `cryptography`."""
    found = identity()
    alg = "ES256" if isinstance(found.key, ec.EllipticCurvePrivateKey) else "RS256"
    thumb = _b64(bytes.fromhex(found.fingerprint))
    header = _b64(json.dumps({"alg": alg, "x5t#S256": thumb}, separators=(",", ":")).encode())
    signing_input = header.encode() + b"." + _b64(data).encode()
    if alg == "ES256":
        signature = _es256(found.key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
    else:
        signature = found.key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header}..{_b64(signature)}"


def verify(data: bytes, jws: str, certificate: x509.Certificate | None = None) -> bool:
    """Whether `jws` (from sign()) signs `data` with `certificate` (default: ours)."""
    certificate = certificate or identity().certificate
    try:
        header_b64, _, signature_b64 = jws.split(".")
        header = json.loads(_unb64(header_b64))
        signing_input = header_b64.encode() + b"." + _b64(data).encode()
        signature = _unb64(signature_b64)
        key = certificate.public_key()
        if header.get("alg") == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(_der(signature), signing_input, ec.ECDSA(hashes.SHA256()))
        elif header.get("alg") == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        else:
            return False
    except (ValueError, InvalidSignature, TypeError):
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _es256(der: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    r, s = decode_dss_signature(der)
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def _der(raw: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
