"""Packets, export and /verify/ through the browser's door: a signer, an auditor, an outsider."""

import hashlib
import io
import json
import zipfile

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.reports import tasks
from apps.reports.models import ExportJob, Packet, PacketJob
from apps.reports.packets.store import build_packet
from tests.signoffs.conftest import read

pytestmark = pytest.mark.django_db


def test_export_is_forbidden_to_a_signer(client, atlas, signer):
    client.force_login(signer)
    response = client.get(reverse("launches:export", args=[atlas.slug]))
    assert response.status_code == 403
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_export_is_hidden_from_an_outsider(client, atlas, django_user_model):
    client.force_login(django_user_model.objects.create_user("nora", password="pw-nora-123"))
    assert client.get(reverse("launches:export", args=[atlas.slug])).status_code == 404


def test_an_auditor_downloads_the_export_now_and_the_download_is_audited(client, atlas, auditor):
    packet = build_packet(launch=atlas, actor="test")
    client.force_login(auditor)
    url = reverse("launches:export", args=[atlas.slug])
    assert "Download now" in client.get(url).content.decode()
    response = client.post(url, {"action": "download"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert "manifest.json" in archive.namelist() and "verify.py" in archive.namelist()
    # The packet as issued (on /verify/), not one rendered inside the request.
    assert hashlib.sha256(archive.read("packet.pdf")).hexdigest() == packet.sha256
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["packet"]["sha256"] == packet.sha256
    assert Packet.objects.count() == 1
    event = AuditEvent.objects.get(action="evidence.exported")
    assert event.actor_id == auditor.pk and event.object_key == response["X-Export-SHA256"]


def test_without_a_current_packet_the_download_is_built_in_the_background(
    client, atlas, auditor, django_capture_on_commit_callbacks
):
    build_packet(launch=atlas, actor="test")
    read("coverage", "50")  # the packet no longer shows the launch as it is
    client.force_login(auditor)
    url = reverse("launches:export", args=[atlas.slug])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, {"action": "download"}, follow=True)
    assert "with a fresh sign-off packet (none is current)" in response.content.decode()
    assert len(callbacks) == 1 and ExportJob.objects.count() == 1
    assert Packet.objects.count() == 1  # nothing rendered inside the request
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_requesting_a_packet_queues_the_task_on_commit(
    client, atlas, signer, django_capture_on_commit_callbacks
):
    client.force_login(signer)
    url = reverse("launches:packets", args=[atlas.slug])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url)
    assert response.status_code == 302 and len(callbacks) == 1
    assert not Packet.objects.exists()  # nothing rendered inside the request
    job = PacketJob.objects.get()
    assert AuditEvent.objects.get(action="packet.requested").object_key == str(job.pk)
    sha256 = tasks.build_packet(job.pk)
    page = client.get(url).content.decode()
    assert sha256 in page
    download = client.get(reverse("launches:packet", args=[atlas.slug, sha256]))
    assert b"".join(download.streaming_content).startswith(b"%PDF")


def test_packet_list_names_who_requested_each_packet(client, atlas, signer):
    packet = build_packet(launch=atlas, actor=signer)
    client.force_login(signer)
    page = client.get(reverse("launches:packets", args=[atlas.slug])).content.decode()
    assert packet.sha256 in page and "vera" in page.lower() and "(latest)" in page


def test_verify_tells_issued_latest_and_superseded(client, atlas, signer, media):
    first = build_packet(launch=atlas, actor=signer)
    client.force_login(signer)
    url = reverse("verify")
    page = client.post(url, {"sha256": first.sha256}).content.decode()
    assert "Issued by this portal" in page and "latest packet" in page and atlas.slug in page
    second = build_packet(launch=atlas, actor=signer)
    pdf = (media / first.path).read_bytes()
    page = client.post(url, {"file": io.BytesIO(pdf)}, format="multipart").content.decode()
    assert "Superseded" in page and second.sha256 in page
    page = client.post(url, {"sha256": "0" * 64}).content.decode()
    assert "Not issued by this portal" in page
    assert "64 hexadecimal" in client.post(url, {"sha256": "zz"}).content.decode()


def test_verify_needs_no_sign_in(client):
    response = client.get(reverse("verify"))
    assert response.status_code == 200 and b"Verify a packet or an export" in response.content


def test_a_stored_packet_is_read_only_and_audited(atlas, signer, media):
    packet = build_packet(launch=atlas, actor=signer)
    path = media / packet.path
    assert path.stat().st_mode & 0o222 == 0
    event = AuditEvent.objects.get(action="packet.built")
    assert event.object_key == packet.sha256 and event.actor_id == signer.pk


def test_the_packets_and_export_pages_take_a_fixed_number_of_queries(
    client, atlas, auditor, django_assert_num_queries
):
    from apps.reports.exports.jobs import request_export
    from apps.reports.packets.jobs import request_packet

    for _ in range(3):
        build_packet(launch=atlas, actor=auditor)
        request_export(launch=atlas, user=auditor)
    request_packet(launch=atlas, user=auditor)
    client.force_login(auditor)
    # session, user, launch (access), the active packet job, the packets, may the user export
    with django_assert_num_queries(6):
        page = client.get(reverse("launches:packets", args=[atlas.slug])).content.decode()
    assert page.count("Download") == 3 and "is being built" in page
    # session, user, launch (access), may the user export, the jobs, the evidence size, the
    # categories of the filter
    with django_assert_num_queries(7):
        page = client.get(reverse("launches:export", args=[atlas.slug])).content.decode()
    assert page.count("Queued") == 3 and "1 evidence file (22" in page
