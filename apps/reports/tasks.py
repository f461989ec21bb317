"""Celery tasks: thin doors onto apps.reports.packets.jobs and apps.reports.exports.jobs.

Both are safe to redeliver (acks_late, reject_on_worker_lost): the job row says whether the work
is still to do.
"""

from celery import shared_task

from apps.reports.dispatch import BUILD_EXPORT, BUILD_PACKET
from apps.reports.exports.jobs import run_export_job
from apps.reports.packets.jobs import run_packet_job


@shared_task(name=BUILD_PACKET)
def build_packet(job_id: int) -> str | None:
    """Render and store the packet a PacketJob asks for; its SHA-256, or None if not ours."""
    packet = run_packet_job(job_id=job_id)
    return packet.sha256 if packet else None


@shared_task(name=BUILD_EXPORT)
def build_export(job_id: int) -> str | None:
    """Write the evidence ZIP an ExportJob asks for; its SHA-256, or None if not ours."""
    job = run_export_job(job_id=job_id)
    return job.sha256 if job else None
