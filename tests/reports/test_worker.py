"""Packets with a real Celery worker on the machine's Redis (RELIABILITY case 8, packet half)."""

import os
import signal
import time

import pytest

from apps.audit.models import AuditEvent
from apps.reports.models import JobStatus, Packet, PacketJob
from apps.reports.packets.jobs import request_packet
from apps.signoffs.models import Duty
from tests.celery_worker import Worker, wait_for
from tests.helpers import manual_gates
from tests.reports.conftest import user_with

pytestmark = pytest.mark.django_db(transaction=True)
EXTRA_GATES = 150  # about five seconds of WeasyPrint on this machine: long enough to be killed in


def test_a_worker_killed_mid_render_leaves_exactly_one_packet(atlas, media, tmp_path):
    manual_gates(atlas, EXTRA_GATES, key="check", name="Release check")
    signer = user_with(atlas, "vera", Duty.SIGNER)
    worker = Worker(concurrency=1, env={"EVIDENCE_ROOT": str(media)}, log=tmp_path / "worker.log")
    try:
        job, _ = request_packet(launch=atlas, user=signer)  # queued on commit: sent now
        wait_for(lambda: PacketJob.objects.filter(pk=job.pk, status=JobStatus.RUNNING).exists(),
                 timeout=60, what="the worker to claim the job")  # fmt: skip
        time.sleep(1.5)  # inside the render
        children = worker.children()
        assert children, "no pool process to kill"
        for child in children:
            os.kill(child, signal.SIGKILL)
        assert not Packet.objects.exists(), "the render finished before the kill: make it longer"
        wait_for(lambda: PacketJob.objects.filter(pk=job.pk, status=JobStatus.DONE).exists(),
                 timeout=180, what="the redelivered render")  # fmt: skip
    finally:
        worker.stop()
    job.refresh_from_db()
    assert job.attempts == 2  # the killed attempt, then the redelivered one
    assert Packet.objects.count() == 1 and job.packet == Packet.objects.get()
    assert AuditEvent.objects.filter(action="packet.built").count() == 1
    assert AuditEvent.objects.filter(action="packet.requested").count() == 1
    assert (media / job.packet.path).read_bytes().startswith(b"%PDF")
    assert b"WorkerLostError" in (tmp_path / "worker.log").read_bytes()
