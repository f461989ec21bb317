"""What /verify/ answers: did this portal issue a file (or a SHA-256), what is it, is it signed.

Packets are known by the SHA-256 of their PDF; exports by that of their ZIP or of their signed
manifest.json (IssuedExport). An uploaded file's signature is checked against the portal's
certificate: a packet's PAdES signature with pyHanko, an export's manifest.json.jws with
portal.signing. Lookups are counted per client address in the shared cache.
"""

import base64
import binascii
import hashlib
import json
import logging
import time
import zipfile
from dataclasses import dataclass

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.cache import cache
from django.db.models import Q, TextChoices
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from apps.launches.models import Launch
from apps.reports.exports.archive import MANIFEST, SIGNATURE
from apps.reports.models import IssuedExport, Packet
from apps.reports.packets.summary_report import KIND as SUMMARY_KIND
from portal import signing

LOOKUPS, WINDOW_SECONDS = 30, 600  # per client address
SNIFF = 1024  # a PDF's header may follow some bytes of junk; a ZIP starts with its first entry
MEMBER_MAX_BYTES = 16 * 1024 * 1024  # manifest.json of an export with ~100k evidence files

logger = logging.getLogger(__name__)


class Signature(TextChoices):
    VALID = "valid", "signed by this portal, valid"
    INVALID = "invalid", "signature invalid"
    FOREIGN = "foreign", "signed, but not with this portal's certificate"
    NONE = "none", "no signature"
    UNCHECKED = "unchecked", "hash known, signature not checked: upload the file to check it"
    UNREADABLE = "unreadable", "signature not checked: not a readable PDF or export ZIP"


@dataclass(frozen=True)
class Finding:
    """What the portal knows of one SHA-256, and the signature state of the file, if uploaded."""

    sha256: str
    signature: str = Signature.UNCHECKED
    detail: str = ""
    packet: Packet | None = None
    newest: Packet | None = None  # the newest packet of the packet's launch
    export: IssuedExport | None = None
    by_manifest: bool = False  # an export known by its manifest.json, not its ZIP's bytes
    summary_of: Launch | None = None  # the closed launch whose metrics summary report it is

    @property
    def kind(self) -> str:
        if self.summary_of:
            return SUMMARY_KIND
        return "packet" if self.packet else "export" if self.export else ""

    @property
    def launch(self):
        issued = self.packet or self.export
        return issued.launch if issued else self.summary_of

    @property
    def superseded(self) -> bool:
        return bool(self.packet and self.newest and self.newest.pk != self.packet.pk)

    @property
    def signature_text(self) -> str:
        return Signature(self.signature).label

    @property
    def outcome(self) -> str:
        """One word pair for the log: what it is, and its signature state."""
        kind = "summary" if self.summary_of else self.kind or "unknown"
        return f"{kind}/{self.signature}"


def look_up(sha256: str, signature: str = Signature.UNCHECKED, detail: str = "") -> Finding:
    """The packet, metrics summary report or export the portal issued with this SHA-256 (of a
    PDF, a ZIP or an export's manifest.json): four queries at most."""
    packet = Packet.objects.select_related("launch").filter(sha256=sha256).first()
    if packet is not None:
        newest = Packet.objects.for_launch(packet.launch).first()
        return Finding(sha256, signature, detail, packet=packet, newest=newest)
    closed = Launch.objects.filter(summary_sha256=sha256).first()
    if closed is not None:
        return Finding(sha256, signature, detail, summary_of=closed)
    exports = IssuedExport.objects.select_related("launch").order_by("issued_at", "id")
    export = exports.filter(Q(sha256=sha256) | Q(manifest_sha256=sha256)).first()
    by_manifest = export is not None and export.sha256 != sha256
    return Finding(sha256, signature, detail, export=export, by_manifest=by_manifest)


def check_upload(upload) -> Finding:
    """Hash an uploaded file in chunks, look it up, and check its signature against ours."""
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    stream = upload.file
    stream.seek(0)
    head = stream.read(SNIFF)
    stream.seek(0)
    if head.startswith(b"PK\x03\x04"):  # first: an export's packet.pdf may be stored near it
        state, detail, manifest_sha256 = zip_signature(stream)
        finding = look_up(digest.hexdigest(), state, detail)
        if finding.kind or not manifest_sha256:
            return finding
        known = look_up(manifest_sha256)  # the same export, zipped again
        return Finding(finding.sha256, state, detail, export=known.export, by_manifest=True)
    if b"%PDF-" in head:
        return look_up(digest.hexdigest(), *pdf_signature(stream))
    return look_up(digest.hexdigest(), Signature.UNREADABLE, "neither a PDF nor a ZIP")


# --- a packet's PAdES signature ----------------------------------------------------------------


def pdf_signature(stream) -> tuple[str, str]:
    """(state, detail) of the portal's signature in a PDF, validated by pyHanko against our
    certificate alone as the trust root."""
    der = signing.identity().certificate.public_bytes(Encoding.DER)
    try:
        signatures = PdfFileReader(stream, strict=False).embedded_signatures
        ours = [s for s in signatures if s.signer_cert.dump() == der]
    except Exception as exc:  # a hostile PDF may raise anything from the parser
        logger.info("verify: unreadable PDF (%s: %s)", type(exc).__name__, exc)
        return Signature.UNREADABLE, "the PDF could not be read"
    if not ours:
        if signatures:
            return Signature.FOREIGN, "signed with another certificate"
        return Signature.NONE, "the PDF carries no signature"
    context = ValidationContext(trust_roots=[asn1_x509.Certificate.load(der)])
    try:
        status = validate_pdf_signature(ours[-1], signer_validation_context=context)
    except Exception as exc:  # pyHanko's errors for a malformed signature are many
        return Signature.INVALID, f"pyHanko could not validate it ({type(exc).__name__})"
    return _pdf_state(status)


def _pdf_state(status) -> tuple[str, str]:
    if not (status.intact and status.valid):
        return Signature.INVALID, "the document was changed after it was signed"
    if not status.trusted:
        return Signature.INVALID, "the certificate is not valid (expired, or not usable to sign)"
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return Signature.INVALID, "the PDF was updated after it was signed"
    when = status.signer_reported_dt
    return Signature.VALID, f"PAdES, signed {when:%Y-%m-%d %H:%M} UTC" if when else "PAdES"


# --- an export's signed manifest ---------------------------------------------------------------


def zip_signature(stream) -> tuple[str, str, str]:
    """(state, detail, SHA-256 of manifest.json) of an export ZIP's manifest signature."""
    try:
        with zipfile.ZipFile(stream) as zf:
            manifest, jws = _member(zf, MANIFEST), _member(zf, SIGNATURE)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError):
        return Signature.UNREADABLE, "the ZIP could not be read", ""
    if manifest is None:
        return Signature.UNREADABLE, f"no {MANIFEST}: not an evidence export", ""
    manifest_sha256 = hashlib.sha256(manifest).hexdigest()
    if jws is None:
        return Signature.NONE, f"no {SIGNATURE}: the manifest is not signed", manifest_sha256
    text = jws.decode("ascii", "replace")
    if signing.verify(manifest, text):
        detail = f"{SIGNATURE} verifies; verify.py in the export checks each file against it"
        return Signature.VALID, detail, manifest_sha256
    if _names_another_certificate(text):
        return Signature.FOREIGN, f"{SIGNATURE} names another certificate", manifest_sha256
    detail = f"{SIGNATURE} does not verify: {MANIFEST} was changed after it was signed"
    return Signature.INVALID, detail, manifest_sha256


def _member(zf: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return None
    if info.file_size > MEMBER_MAX_BYTES:
        raise zipfile.BadZipFile(f"{name} is larger than {MEMBER_MAX_BYTES} bytes")
    with zf.open(info) as member:
        return member.read(MEMBER_MAX_BYTES + 1)[:MEMBER_MAX_BYTES]


def _names_another_certificate(jws: str) -> bool:
    try:
        header_b64 = jws.split(".")[0]
        header = json.loads(_unb64(header_b64))
        thumbprint = _unb64(header["x5t#S256"]).hex()
    except (ValueError, KeyError, TypeError, binascii.Error):
        return False
    return thumbprint != signing.identity().fingerprint


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- how often an address may ask ----------------------------------------------------------------


def spend_lookup(address: str | None, now: float | None = None) -> bool:
    """Count one lookup for `address` in the shared cache; False once it is over LOOKUPS in the
    current WINDOW_SECONDS (a fixed window: at most twice LOOKUPS across a window's edge)."""
    window = int((now or time.time()) // WINDOW_SECONDS)
    key = f"verify:lookups:{address or 'unknown'}:{window}"
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW_SECONDS)
        count = 1
    return count <= LOOKUPS
