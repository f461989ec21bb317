"""Signed packets: every packet carries the portal's PAdES signature, which poppler's `pdfsig` and
pyHanko both check, an auditor holding nothing but the PDF and the portal's certificate; and the
system checks that keep production from signing with no identity, or a poor one."""

import hashlib
import io
import os
import secrets
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone
from pyhanko.keys.internal import (
    translate_pyca_cryptography_cert_to_asn1,
    translate_pyca_cryptography_key_to_asn1,
)
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from apps.reports.packets.store import build_packet, open_packet, render_stored
from portal import signing
from portal.checks import check_signing_identity
from tests.helpers import ROOT, ca_issued_identity, certificate_for, write_identity
from tests.reports.conftest import approve_all
from tests.reports.pdftext import pdf_text

pytestmark = pytest.mark.django_db

VALID = "Signature Validation: Signature is Valid."
WHOLE = "Total document signed"


def pdfsig(pdf: bytes, tmp_path) -> str:
    """poppler's report on the PDF's signatures. The test identity is self-signed, so its
    certificate line says the issuer isn't trusted: only the signature lines are asserted."""
    path = tmp_path / "packet.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60)
    return done.stdout


def pyhanko_status(pdf: bytes, certificate: x509.Certificate, **contexts):
    """pyHanko's validation of the one signature, with `certificate` as the only trust root."""
    root = translate_pyca_cryptography_cert_to_asn1(certificate)
    context = ValidationContext(trust_roots=[root], allow_fetching=False)
    [signature] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    return validate_pdf_signature(signature, signer_validation_context=context, **contexts)


def stored_bytes(rendered) -> bytes:
    return (Path(settings.MEDIA_ROOT) / rendered.path).read_bytes()


def one_byte_changed(pdf: bytes) -> bytes:
    """The PDF with one byte of its header comment (inside the first signed range) flipped."""
    changed = bytearray(pdf)
    changed[11] ^= 0x01
    return bytes(changed)


@pytest.mark.parametrize("final", [False, True], ids=["interim", "final"])
def test_a_built_packet_is_signed_and_its_hash_covers_the_signed_file(atlas, tmp_path, final):
    if final:
        approve_all(atlas)
    packet = build_packet(launch=atlas, actor="test")
    with open_packet(packet) as opened:
        stored = opened.read()

    assert packet.status == ("FINAL" if final else "INTERIM")
    assert hashlib.sha256(stored).hexdigest() == packet.sha256
    report = pdfsig(stored, tmp_path)
    assert VALID in report and WHOLE in report, report
    assert "Signature Field Name: LaunchPortal" in report


def test_one_changed_byte_breaks_the_signature_for_pdfsig_and_pyhanko(atlas, tmp_path):
    signed = stored_bytes(render_stored(launch=atlas, now=timezone.now()))
    certificate = signing.identity().certificate

    intact = pyhanko_status(signed, certificate)
    assert intact.intact and intact.valid and intact.trusted and intact.bottom_line
    assert intact.coverage.name == "ENTIRE_FILE"

    changed = one_byte_changed(signed)
    report = pdfsig(changed, tmp_path)
    assert VALID not in report and "Digest Mismatch" in report, report
    assert not pyhanko_status(changed, certificate).intact


def test_the_packet_prints_the_fingerprint_and_the_checkpoint_it_closes_on(atlas):
    rendered = render_stored(launch=atlas, now=timezone.now())
    text = pdf_text(stored_bytes(rendered))

    assert signing.grouped(signing.identity().fingerprint) in text
    checkpoint = rendered.context["checkpoint"]
    assert f"#{checkpoint['sequence']} {checkpoint['head']}" in text


# --- B-T: a time-stamp from an RFC 3161 authority ---------------------------------------------


def make_tsa() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A throwaway TSA: RSA (pyHanko's DummyTimeStamper signs with RSA only), timeStamping EKU."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test TSA")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=2))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    return key, certificate


@pytest.fixture
def tsa():
    """An RFC 3161 responder on loopback: pyHanko's DummyTimeStamper behind http.server."""
    key, certificate = make_tsa()
    stamper = DummyTimeStamper(
        tsa_cert=translate_pyca_cryptography_cert_to_asn1(certificate),
        tsa_key=translate_pyca_cryptography_key_to_asn1(key),
    )
    requests = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            requests.append(self.headers["Content-Type"])
            answer = stamper.request_tsa_response(tsp.TimeStampReq.load(body)).dump()
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa", certificate, requests
    finally:
        server.shutdown()
        server.server_close()


def test_with_a_tsa_the_packet_is_b_t_and_its_timestamp_validates(atlas, settings, tsa, tmp_path):
    url, tsa_certificate, requests = tsa
    settings.SIGNING_TSA_URL = url

    signed = stored_bytes(render_stored(launch=atlas, now=timezone.now()))

    assert requests == ["application/timestamp-query"]
    report = pdfsig(signed, tmp_path)
    assert VALID in report and WHOLE in report, report
    tsa_root = translate_pyca_cryptography_cert_to_asn1(tsa_certificate)
    status = pyhanko_status(
        signed, signing.identity().certificate,
        ts_validation_context=ValidationContext(trust_roots=[tsa_root], allow_fetching=False),
    )  # fmt: skip
    assert status.intact and status.valid and status.trusted
    stamp = status.timestamp_validity
    assert stamp is not None and stamp.intact and stamp.valid and stamp.trusted
    assert abs(stamp.timestamp - datetime.now(UTC)) < timedelta(minutes=5)
    assert status.bottom_line


# --- the system check -------------------------------------------------------------------------


@pytest.fixture
def production(settings):
    """DEBUG off, nothing configured; the identity is loaded afresh and forgotten afterwards."""
    settings.DEBUG = False
    settings.SIGNING_KEY_FILE = settings.SIGNING_CERT_FILE = settings.SIGNING_PKCS12_FILE = ""
    settings.SIGNING_CHAIN_FILE = settings.SIGNING_KEY_PASSPHRASE = ""
    signing.identity.cache_clear()
    yield settings
    signing.identity.cache_clear()


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def configure(settings, values: dict) -> None:
    for name, value in values.items():
        setattr(settings, name, value)
    signing.identity.cache_clear()


def test_production_without_an_identity_fails_the_check(production):
    [error] = check_signing_identity()
    assert error.id == "signing.E001" and error.is_serious()


def test_a_self_signed_certificate_is_a_warning(production, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    configure(production, write_identity(tmp_path, key, certificate_for(key)))
    assert ids(check_signing_identity()) == ["signing.W001"]


def test_a_certificate_expiring_within_30_days_is_a_warning(production, tmp_path):
    configure(production, ca_issued_identity(tmp_path, days=10))
    [warning] = check_signing_identity()
    assert warning.id == "signing.W002" and not warning.is_serious()


def test_a_ca_issued_current_certificate_passes(production, tmp_path):
    configure(production, ca_issued_identity(tmp_path))
    assert check_signing_identity() == []


def test_development_is_not_checked(production):
    production.DEBUG = True
    assert check_signing_identity() == []


def test_a_wrong_passphrase_is_an_error_naming_the_variable(production, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    files = write_identity(tmp_path, key, certificate_for(key), passphrase=b"right horse")
    configure(production, {**files, "SIGNING_KEY_PASSPHRASE": "wrong horse"})
    [error] = check_signing_identity()
    assert error.id == "signing.E002" and error.msg.startswith("SIGNING_KEY_PASSPHRASE: ")


def test_a_key_that_does_not_match_the_certificate_is_an_error(production, tmp_path):
    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    configure(production, write_identity(tmp_path, key, certificate_for(other)))
    [error] = check_signing_identity()
    assert error.id == "signing.E002"
    assert error.msg.startswith("SIGNING_KEY_FILE / SIGNING_CERT_FILE: ")


def test_a_missing_certificate_file_is_named(production, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    files = write_identity(tmp_path, key, certificate_for(key))
    configure(production, {**files, "SIGNING_CERT_FILE": str(tmp_path / "nope.pem")})
    [error] = check_signing_identity()
    assert error.id == "signing.E002" and error.msg.startswith("SIGNING_CERT_FILE: ")


def deploy_check(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """`manage.py check --deploy --fail-level WARNING` as production runs it."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "PYTHONPATH", "VIRTUAL_ENV"}
    clean = {k: v for k, v in os.environ.items() if k in keep}
    clean.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50), ALLOWED_HOSTS="p.example",
                 PORTAL_VAR_DIR=str(tmp_path / "var"), **env)  # fmt: skip
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_make_prods_trial_pair_passes_the_deploy_check_only_when_accepted(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    files = write_identity(tmp_path / "signing-prod", key, certificate_for(key))

    refused = deploy_check(tmp_path, **files)
    assert refused.returncode != 0 and "signing.W001" in refused.stderr
    accepted = deploy_check(tmp_path, **files, SIGNING_ACCEPT_SELF_SIGNED="1")
    # Only signing's messages: the whole deploy check is tests/accounts/test_headers.py's.
    said = accepted.stdout + accepted.stderr
    assert "signing." not in said and "(1 silenced)" in said, said


# --- the signing_identity command (make run, make prod) ------------------------------------------


def test_make_run_says_when_it_made_the_development_pair_and_prints_the_fingerprint(
    production, tmp_path
):
    production.DEBUG, production.VAR_DIR = True, tmp_path
    first, again = io.StringIO(), io.StringIO()

    call_command("signing_identity", stdout=first)
    signing.identity.cache_clear()
    call_command("signing_identity", stdout=again)

    fingerprint = signing.grouped(signing.identity().fingerprint)
    assert f"self-signed development signing pair under {tmp_path / 'signing'}/" in first.getvalue()
    assert "Made a self-signed" not in again.getvalue()
    for output in (first.getvalue(), again.getvalue()):
        assert fingerprint in output and "self-signed  yes" in output


def test_make_prod_makes_a_trial_pair_once_where_the_variables_say(production, tmp_path):
    files = {
        "SIGNING_KEY_FILE": str(tmp_path / "k.pem"),
        "SIGNING_CERT_FILE": str(tmp_path / "c.pem"),
    }
    configure(production, files)
    made, again = io.StringIO(), io.StringIO()

    call_command("signing_identity", make_self_signed=True, stdout=made)
    certificate = (tmp_path / "c.pem").read_bytes()
    signing.identity.cache_clear()
    call_command("signing_identity", make_self_signed=True, stdout=again)

    assert "Made a self-signed signing pair" in made.getvalue()
    assert "Made" not in again.getvalue() and (tmp_path / "c.pem").read_bytes() == certificate
    assert ids(check_signing_identity()) == ["signing.W001"]
