"""PAdES signatures on the portal's PDFs, with its signing identity (portal/signing.py).

PAdES B-B, or B-T when SIGNING_TSA_URL names an RFC 3161 time-stamping authority: the token is
fetched through the portal's outbound client (the operator's own URL, bounded in time and size).
The signature is visible: a block on the first page in `box` (PDF points from the bottom left),
which the packet template keeps free. Any PDF validator checks it, e.g. poppler's `pdfsig`.
"""

import asyncio
import io
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from asn1crypto import tsp
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from django.conf import settings

from portal import outbound
from portal.signing import Identity, identity

with warnings.catch_warnings():
    # pyHanko imports cryptography's deprecated DSA types; the portal never signs with DSA.
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    from pyhanko.keys.internal import (
        translate_pyca_cryptography_cert_to_asn1,
        translate_pyca_cryptography_key_to_asn1,
    )
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.text import TextBoxStyle
    from pyhanko.sign import fields, signers, timestamps
    from pyhanko.sign.timestamps.common_utils import TimestampRequestError, set_tsp_headers
    from pyhanko.stamp import TextStampStyle
    from pyhanko_certvalidator.registry import SimpleCertificateStore
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

MM = 72 / 25.4
FIELD = "LaunchPortal"
# Bottom left of an A4 page inside 15 mm side and 18 mm bottom margins: 180 x 24 mm.
FIRST_PAGE_FOOT = (round(15 * MM), round(18 * MM), round(195 * MM), round(42 * MM))
# Room for the CMS: certificate chain, signature, and a time-stamp token with its own chain.
# A fixed size spares pyHanko a dry-run signature to estimate it.
RESERVED = 16_384
TSA_TIMEOUT = 10.0
TSA_MAX_BYTES = 256 * 1024


def sign_pdf(
    pdf: bytes, *, reason: str, stamp_text: str, box: tuple[int, int, int, int] = FIRST_PAGE_FOOT
) -> bytes:
    """`pdf` with the portal's PAdES signature appended (an incremental update), visible on the
    first page: who signed, when (UTC), and `stamp_text`."""
    found = identity()
    signed_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    level = "B-T" if settings.SIGNING_TSA_URL else "B-B"
    text = f"Digitally signed by {_common_name(found)} ({level})\nSigned at {signed_at}\n"
    style = TextStampStyle(
        stamp_text=_printable(text + stamp_text),
        text_box_style=TextBoxStyle(font_size=8),
        border_width=1,
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD, reason=reason, md_algorithm="sha256",
        subfilter=fields.SigSeedSubFilter.PADES,
    )  # fmt: skip
    signer = signers.PdfSigner(
        meta, KeySigner(found), timestamper=_timestamper(), stamp_style=style,
        new_field_spec=fields.SigFieldSpec(FIELD, on_page=0, box=box),
    )  # fmt: skip
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    return _outside_event_loop(lambda: signer.sign_pdf(writer, bytes_reserved=RESERVED)).getvalue()


class KeySigner(signers.SimpleSigner):
    """pyHanko's SimpleSigner, signing with the key object already loaded: SimpleSigner parses
    the key again for every signature, which costs a tenth of a second for RSA-3072."""

    def __init__(self, found: Identity):
        store = SimpleCertificateStore()
        store.register_multiple(translate_pyca_cryptography_cert_to_asn1(c) for c in found.chain)
        super().__init__(
            signing_cert=translate_pyca_cryptography_cert_to_asn1(found.certificate),
            signing_key=translate_pyca_cryptography_key_to_asn1(found.key),
            cert_registry=store,
        )
        self.key = found.key

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        digest = get_pyca_cryptography_hash(digest_algorithm)
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(data, ec.ECDSA(digest))
        return self.key.sign(data, padding.PKCS1v15(), digest)  # prefer_pss is off


class OutboundTimeStamper(timestamps.TimeStamper):
    """RFC 3161 over HTTP through portal.outbound (pyHanko's own clients bypass it)."""

    def __init__(self, url: str):
        super().__init__()
        self.url = url

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            response = outbound.request(
                "POST", self.url, allowed_hosts=None, headers=set_tsp_headers({}),
                body=req.dump(), max_bytes=TSA_MAX_BYTES, timeout=TSA_TIMEOUT,
            )  # fmt: skip
        except outbound.OutboundError as exc:
            raise TimestampRequestError(f"SIGNING_TSA_URL {self.url}: {exc}") from exc
        kind = response.headers.get("Content-Type", "")
        if response.status != 200 or kind != "application/timestamp-reply":
            raise TimestampRequestError(
                f"SIGNING_TSA_URL {self.url}: HTTP {response.status}, {kind or 'no content type'}"
            )
        return tsp.TimeStampResp.load(response.body)


def _outside_event_loop(call):
    """pyHanko's synchronous API runs an event loop of its own, impossible inside a running one
    (an async view; Playwright's sync API in tests): then it runs in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return call()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def _timestamper() -> timestamps.TimeStamper | None:
    return OutboundTimeStamper(settings.SIGNING_TSA_URL) if settings.SIGNING_TSA_URL else None


def _common_name(found: Identity) -> str:
    names = found.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else found.certificate.subject.rfc4514_string()


def _printable(text: str) -> str:
    """The stamp's standard font speaks WinAnsi, and pyHanko reads `%(name)s` in it."""
    return text.encode("ascii", "replace").decode().replace("%", "%%")
