"""/verify/ for whoever holds a packet or an export, with no account on the portal.

An outside auditor uploads the packet PDF, the export ZIP, or pastes a SHA-256; mallory uploads
a forged export. vera (a signer on Atlas) is signed in and gets a way into the launch; nora, signed
in but on no launch, gets the same answer without it.
"""

import hashlib
import io
import json
import logging
import zipfile

import pytest
from django.core.cache import cache
from django.urls import reverse
from pyhanko.pdf_utils.reader import PdfFileReader

from apps.reports import verification
from apps.reports.exports.jobs import export_audited
from apps.reports.packets.store import build_packet
from portal import signing

pytestmark = pytest.mark.django_db
URL = "/verify/"


@pytest.fixture(autouse=True)
def _fresh_counts():
    cache.clear()  # the lookup counts of other tests' addresses


@pytest.fixture
def packet(atlas, signer):
    return build_packet(launch=atlas, actor=signer)


@pytest.fixture
def export_zip(atlas, auditor) -> bytes:
    archive, _ = export_audited(launch=atlas, actor=auditor)
    with archive:
        return archive.read()


def upload(client, data: bytes, name: str):
    stream = io.BytesIO(data)
    stream.name = name
    return client.post(URL, {"file": stream})


def carries_a_signature(pdf: bytes) -> bool:
    return bool(PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures)


def test_the_page_needs_no_session_and_shows_the_fingerprint_and_certificate(client):
    page = client.get(URL).content.decode()
    assert signing.grouped(signing.identity().fingerprint) in page
    assert reverse("verify-certificate") == "/verify/certificate.pem"
    assert reverse("verify-certificate") in page
    pem = client.get(reverse("verify-certificate"))
    assert pem.status_code == 200 and pem["Content-Type"] == "application/x-pem-file"
    assert pem.content == signing.identity().certificate_pem()


def test_a_packet_pdf_upload_names_launch_kind_and_the_signature_it_carries(
    client, atlas, packet, media
):
    pdf = (media / packet.path).read_bytes()
    page = upload(client, pdf, "packet.pdf").content.decode()
    assert "Issued by this portal" in page
    assert f"the sign-off packet ({packet.status}) of Atlas {atlas.version} (atlas)" in page
    assert f"issued {packet.built_at:%Y-%m-%d %H:%M:%S} UTC" in page
    assert "It is the latest packet of this launch." in page
    assert carries_a_signature(pdf)  # the portal's PAdES signature, which pyHanko validates
    assert "Signature: <strong>signed by this portal, valid</strong>" in page
    assert "vera" not in page.lower()  # who asked for the packet is not told


def test_a_changed_packet_is_not_ours_and_its_signature_says_so(client, packet, media):
    pdf = bytearray((media / packet.path).read_bytes())
    at = pdf.index(b"stream", len(pdf) // 4) + 20  # inside a content stream: offsets unchanged
    pdf[at] ^= 0x01
    page = upload(client, bytes(pdf), "packet.pdf").content.decode()
    assert "Not issued by this portal" in page
    assert "Signature: <strong>signature invalid</strong>" in page
    assert "the document was changed after it was signed" in page


def test_a_pdf_signed_with_another_certificate_is_not_ours(client, atlas, monkeypatch):
    """mallory renders a packet-like PDF and signs it with her own self-signed certificate."""
    from django.utils import timezone

    from apps.reports.packets.render import render_packet
    from portal import pdfsign

    pdf = render_packet(atlas, now=timezone.now(), signed=False)
    mallory = signing.Identity(*signing.make_self_signed("Launch Portal"), (), "mallory")
    monkeypatch.setattr(pdfsign, "identity", lambda: mallory)
    forged = pdfsign.sign_pdf(pdf, reason="Launch Portal sign-off packet", stamp_text="FINAL")
    assert carries_a_signature(forged)
    page = upload(client, forged, "packet.pdf").content.decode()
    assert "Not issued by this portal" in page
    assert "signed, but not with this portal&#x27;s certificate" in page


def test_an_export_zip_upload_is_known_and_its_manifest_signature_valid(client, atlas, export_zip):
    page = upload(client, export_zip, "export.zip").content.decode()
    assert f"an evidence export of Atlas {atlas.version} (atlas)" in page
    assert "Signature: <strong>signed by this portal, valid</strong>" in page
    assert "Known by its signed" not in page


def test_the_same_export_zipped_again_is_known_by_its_signed_manifest(client, export_zip):
    again = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(export_zip)) as source, zipfile.ZipFile(again, "w") as copy:
        for name in source.namelist():
            copy.writestr(name, source.read(name))  # stored, not deflated: other bytes
    page = upload(client, again.getvalue(), "again.zip").content.decode()
    assert "an evidence export of Atlas" in page and "Known by its signed" in page
    assert "signed by this portal, valid" in page


def test_a_forged_export_is_not_ours_and_its_signature_invalid(client, export_zip):
    """mallory edits gates.csv and recomputes its hash in the manifest."""
    forged = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(export_zip)) as source, zipfile.ZipFile(forged, "w") as out:
        manifest = json.loads(source.read("manifest.json"))
        gates = source.read("gates.csv").replace(b"passing", b"PASSING")
        manifest["files"]["gates.csv"] = {
            "sha256": hashlib.sha256(gates).hexdigest(),
            "size": len(gates),
        }
        for name in source.namelist():
            data = {"gates.csv": gates}.get(name, source.read(name))
            if name == "manifest.json":
                text = json.dumps(manifest, sort_keys=True, separators=(",", ":"))
                data = (text + "\n").encode()
            out.writestr(name, data)
    page = upload(client, forged.getvalue(), "forged.zip").content.decode()
    assert "Not issued by this portal" in page
    assert "Signature: <strong>signature invalid</strong>" in page
    assert "manifest.json.jws does not verify" in page


def test_a_pasted_hash_is_known_but_its_signature_not_checked(client, atlas, packet, export_zip):
    for sha256, kind in (
        (packet.sha256, f"the sign-off packet ({packet.status}) of Atlas"),
        (hashlib.sha256(export_zip).hexdigest(), "an evidence export of Atlas"),
    ):
        page = client.post(URL, {"sha256": sha256.upper()}).content.decode()
        assert "Issued by this portal" in page and kind in page
        assert "hash known, signature not checked: upload the file to check it" in page
    manifest = zipfile.ZipFile(io.BytesIO(export_zip)).read("manifest.json")
    page = client.post(URL, {"sha256": hashlib.sha256(manifest).hexdigest()}).content.decode()
    assert "an evidence export of Atlas" in page and "Known by its signed" in page


def test_an_unknown_file_or_hash_was_not_issued_by_this_portal(client, atlas):
    page = upload(client, b"just some bytes", "notes.txt").content.decode()
    assert "Not issued by this portal" in page and "not a readable PDF or export ZIP" in page
    page = client.post(URL, {"sha256": "ab" * 32}).content.decode()
    assert "Not issued by this portal" in page and "Atlas" not in page
    bad = client.post(URL, {"sha256": "not a hash"})
    assert bad.status_code == 400 and "64 hexadecimal" in bad.content.decode()


def test_a_newer_packet_supersedes_an_older_one(client, atlas, signer, packet, media):
    newer = build_packet(launch=atlas, actor=signer)
    page = upload(client, (media / packet.path).read_bytes(), "old.pdf").content.decode()
    assert "Superseded:" in page and newer.sha256 in page
    page = client.post(URL, {"sha256": newer.sha256}).content.decode()
    assert "It is the latest packet of this launch." in page and "Superseded" not in page


def test_lookups_are_limited_per_address(client, packet):
    for _ in range(verification.LOOKUPS):
        assert client.post(URL, {"sha256": packet.sha256}).status_code == 200
    refused = client.post(URL, {"sha256": packet.sha256})
    assert refused.status_code == 429 and "Too many lookups" in refused.content.decode()
    assert client.get(URL).status_code == 200  # the form itself is not a lookup
    elsewhere = client.post(URL, {"sha256": packet.sha256}, REMOTE_ADDR="192.0.2.7")
    assert elsewhere.status_code == 200


def test_an_upload_over_the_limit_is_refused_before_it_is_read(client, settings):
    settings.REPORT_MAX_BYTES = 1000
    response = upload(client, b"%PDF-1.7\n" + b"x" * 200_000, "big.pdf")
    assert response.status_code == 413 and "paste its SHA-256" in response.content.decode()


def test_every_lookup_is_logged_with_hash_outcome_and_address(client, packet, caplog):
    with caplog.at_level(logging.INFO, logger="apps.reports.verify"):
        client.post(URL, {"sha256": packet.sha256})
        client.post(URL, {"sha256": "cd" * 32})
    lines = [r.getMessage() for r in caplog.records if r.name == "apps.reports.verify"]
    assert lines == [
        f"verify lookup sha256={packet.sha256} outcome=packet/unchecked address=127.0.0.1",
        f"verify lookup sha256={'cd' * 32} outcome=unknown/unchecked address=127.0.0.1",
    ]


def test_someone_who_may_see_the_launch_gets_a_link_an_outsider_does_not(
    client, atlas, signer, auditor, packet, export_zip, django_user_model
):
    packets_page = reverse("launches:packets", args=[atlas.slug])
    export_page = reverse("launches:export", args=[atlas.slug])
    zip_sha256 = hashlib.sha256(export_zip).hexdigest()
    client.force_login(signer)
    assert packets_page in client.post(URL, {"sha256": packet.sha256}).content.decode()
    client.force_login(auditor)
    assert export_page in client.post(URL, {"sha256": zip_sha256}).content.decode()
    client.force_login(django_user_model.objects.create_user("nora", password="pw-nora-123"))
    for sha256 in (packet.sha256, zip_sha256):
        page = client.post(URL, {"sha256": sha256}).content.decode()
        assert "Issued by this portal" in page
        assert packets_page not in page and export_page not in page
    client.logout()
    assert packets_page not in client.post(URL, {"sha256": packet.sha256}).content.decode()
