"""Packets and exports built in the background: one at a time, once, whatever the broker does."""

import io
import subprocess
import sys
import zipfile

import pytest
from django.urls import reverse

from apps.audit.models import AuditEvent
from apps.reports import tasks
from apps.reports.models import ExportJob, JobStatus, Packet, PacketJob
from apps.reports.packets.jobs import request_packet, run_packet_job
from apps.signoffs.services import update_readiness
from tests.reports.conftest import approve_all

pytestmark = pytest.mark.django_db


# --- one packet job runs -----------------------------------------------------------------------


def test_a_second_packet_request_joins_the_one_being_built(
    client, atlas, signer, auditor, django_capture_on_commit_callbacks
):
    url = reverse("launches:packets", args=[atlas.slug])
    client.force_login(signer)
    with django_capture_on_commit_callbacks(execute=False) as first:
        client.post(url)
    client.force_login(auditor)
    with django_capture_on_commit_callbacks(execute=False) as second:
        response = client.post(url, follow=True)
    assert len(first) == 1 and len(second) == 0  # the second request queued nothing
    assert PacketJob.objects.count() == 1
    page = response.content.decode()
    assert "already being built" in page and "is being built" in page and "data-live" in page
    assert AuditEvent.objects.filter(action="packet.requested").count() == 1
    tasks.build_packet(PacketJob.objects.get().pk)
    page = client.get(url, HTTP_HX_REQUEST="true").content.decode()  # the live region, refreshed
    assert "is being built" not in page and "data-live" not in page and "(latest)" in page


def test_a_new_request_is_taken_once_the_last_packet_is_built(atlas, signer):
    first, created = request_packet(launch=atlas, user=signer)
    assert created
    run_packet_job(job_id=first.pk)
    second, created = request_packet(launch=atlas, user=signer)
    assert created and second.pk != first.pk


def test_a_redelivered_packet_task_for_a_done_job_does_nothing(atlas, signer):
    job, _ = request_packet(launch=atlas, user=signer)
    assert tasks.build_packet(job.pk) is not None
    assert tasks.build_packet(job.pk) is None  # acks_late redelivery after the work was done
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.attempts == 1 and job.packet is not None
    assert Packet.objects.count() == 1
    assert AuditEvent.objects.filter(action="packet.built").count() == 1


def test_a_packet_job_whose_worker_died_is_taken_over_by_the_redelivery(atlas, signer):
    job, _ = request_packet(launch=atlas, user=signer)
    PacketJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=1)  # killed
    packet = run_packet_job(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.attempts == 2 and job.packet == packet
    assert packet.requested_by == signer


def test_a_packet_job_is_given_up_after_three_attempts(atlas, signer):
    job, _ = request_packet(launch=atlas, user=signer)
    PacketJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING, attempts=3)
    assert run_packet_job(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "3 attempts" in job.error
    assert not Packet.objects.exists()


def test_the_launch_becoming_ready_builds_one_final_packet(
    atlas, django_capture_on_commit_callbacks, media
):
    from apps.gates.models import Gate

    Gate.objects.filter(launch=atlas).update(blocking=False)  # readiness rests on sign-offs
    approve_all(atlas)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert update_readiness(launch_id=atlas.pk)
    assert len(callbacks) == 2  # the receiver's on_commit, then the task queued on commit
    job = PacketJob.objects.get()
    ready = AuditEvent.objects.get(action="launch.ready")
    assert job.ready_event == ready.pk and job.requested_by_name == "system (launch ready)"
    with django_capture_on_commit_callbacks(execute=True):
        assert update_readiness(launch_id=atlas.pk)  # still ready: no new event, no new job
    assert PacketJob.objects.count() == 1
    packet = run_packet_job(job_id=job.pk)
    assert packet.status == "FINAL" and packet.requested_by_name == "system (launch ready)"


# --- exports built in the background -----------------------------------------------------------


def test_an_export_above_the_threshold_is_built_in_the_background(
    client, atlas, auditor, settings, django_capture_on_commit_callbacks, tmp_path
):
    settings.EXPORT_INLINE_MAX_BYTES = 10  # the atlas launch holds 22 bytes of evidence
    client.force_login(auditor)
    url = reverse("launches:export", args=[atlas.slug])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(url, {"action": "download", "category": ["quality"]}, follow=True)
    assert response["Content-Type"].startswith("text/html") and len(callbacks) == 1
    job = ExportJob.objects.get()
    assert job.status == JobStatus.QUEUED and job.filters["categories"] == ["quality"]
    requested = AuditEvent.objects.get(action="evidence.export_requested")
    assert requested.actor_id == auditor.pk and requested.object_key == str(job.pk)
    page = response.content.decode()
    assert "built in the background" in page and 'id="export-jobs" data-live' in page

    assert tasks.build_export(job.pk) is not None
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.size > 0 and len(job.sha256) == 64
    rows = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert (
        "data-live" not in rows
        and reverse("launches:export-download", args=[atlas.slug, job.pk]) in rows
    )

    download = client.get(reverse("launches:export-download", args=[atlas.slug, job.pk]))
    body = b"".join(download.streaming_content)
    assert download["X-Export-SHA256"] == job.sha256
    (tmp_path / "job.zip").write_bytes(body)
    manifest = zipfile.ZipFile(io.BytesIO(body)).read("manifest.json")
    assert b'"categories":["quality"]' in manifest
    zipfile.ZipFile(io.BytesIO(body)).extractall(tmp_path / "x")
    script, archive = tmp_path / "x" / "verify.py", tmp_path / "job.zip"
    check = subprocess.run([sys.executable, str(script), str(archive)],
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert check.returncode == 0, check.stdout + check.stderr
    built = AuditEvent.objects.get(action="evidence.exported")
    assert built.object_key == job.sha256 and built.data["job"] == job.pk
    downloaded = AuditEvent.objects.get(action="evidence.export_downloaded")
    assert downloaded.actor_id == auditor.pk and downloaded.object_key == job.sha256


def test_a_redelivered_export_task_for_a_done_job_does_nothing(client, atlas, auditor, media):
    client.force_login(auditor)
    client.post(reverse("launches:export", args=[atlas.slug]), {"action": "background"})
    job = ExportJob.objects.get()
    tasks.build_export(job.pk)
    assert tasks.build_export(job.pk) is None
    job.refresh_from_db()
    assert job.attempts == 1
    assert AuditEvent.objects.filter(action="evidence.exported").count() == 1
    assert len(list((media / "exports").iterdir())) == 1  # no second file, no temporary left


def test_a_built_export_is_for_auditors_only(client, atlas, auditor, signer):
    client.force_login(auditor)
    client.post(reverse("launches:export", args=[atlas.slug]), {"action": "background"})
    job = ExportJob.objects.get()
    tasks.build_export(job.pk)
    client.force_login(signer)
    url = reverse("launches:export-download", args=[atlas.slug, job.pk])
    assert client.get(url).status_code == 403
    assert not AuditEvent.objects.filter(action="evidence.export_downloaded").exists()


def test_a_bad_export_filter_is_refused_and_nothing_is_queued(client, atlas, auditor):
    client.force_login(auditor)
    url = reverse("launches:export", args=[atlas.slug])
    response = client.post(url, {"action": "background", "since": "yesterday"})
    assert response.status_code == 400 and "is not a date and time" in response.content.decode()
    response = client.post(url, {"action": "background", "since": "2026-11-02T00:00",
                                 "until": "2026-11-01T00:00"})  # fmt: skip
    assert response.status_code == 400 and "since must be before until" in response.content.decode()
    assert not ExportJob.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="evidence.").exists()
