"""Celery tasks: thin doors onto apps.reports.jobs and apps.reports.exports.

Both are safe to redeliver (acks_late, reject_on_worker_lost): the job row says whether the work
is still to do.
"""

from celery import shared_task

from apps.reports import exports, jobs
from apps.reports.dispatch import BUILD_EXPORT, BUILD_PACKET


@shared_task(name=BUILD_PACKET)
def build_packet(job_id: int) -> str | None:
    """Render and store the packet a PacketJob asks for; its SHA-256, or None if not ours."""
    packet = jobs.run_packet_job(job_id=job_id)
    return packet.sha256 if packet else None


@shared_task(name=BUILD_EXPORT)
def build_export(job_id: int) -> str | None:
    """Write the evidence ZIP an ExportJob asks for; its SHA-256, or None if not ours."""
    job = exports.run_export_job(job_id=job_id)
    return job.sha256 if job else None
