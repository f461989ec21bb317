"""Packet jobs: a packet asked for by a person, or by a launch becoming ready, built by a task.

Claimed, finished and failed through the Job model (apps/reports/models.py), so a redelivered
task builds one packet at most; the task is queued by name (apps/reports/dispatch.py).
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import record
from apps.launches.models import Launch
from apps.reports.dispatch import BUILD_PACKET, build_later
from apps.reports.models import ACTIVE, JobStatus, Packet, PacketJob, actor_name
from apps.reports.packets.store import render_stored, save_packet

# Longer than every attempt's hard time limit together: a job still active after this is lost
# (its message purged, its worker gone) and no longer blocks a new request.
STALE_AFTER = timedelta(minutes=30)
READY_REQUESTER = "system (launch ready)"


def active_packet_job(launch: Launch, now: datetime | None = None) -> PacketJob | None:
    """The launch's queued or running packet job that is not lost, oldest first."""
    now = now or timezone.now()
    jobs = PacketJob.objects.filter(launch=launch, status__in=ACTIVE)
    return jobs.filter(requested_at__gte=now - STALE_AFTER).order_by("requested_at", "id").first()


def request_packet(*, launch: Launch, user, now: datetime | None = None) -> tuple[PacketJob, bool]:
    """Queue a packet for `user`, unless one of the launch is queued or being built.

    Returns (the job, whether it is new). Concurrent requests are decided by the partial unique
    index on the launch's active requests; the loser is given the winner's job.
    """
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    with transaction.atomic():
        _abandon_lost(launch, now)
        active = active_packet_job(launch, now)
        if active is not None:
            return active, False
        try:
            with transaction.atomic():
                job = PacketJob.objects.create(launch=launch, requested_by=user,
                                               requested_by_name=actor_name(user),
                                               requested_at=now)  # fmt: skip
        except IntegrityError:
            return active_packet_job(launch, now), False
        record(actor=user, action="packet.requested", launch_slug=launch.slug,
               obj_type="packet_job", obj_key=job.pk)  # fmt: skip
        build_later(BUILD_PACKET, job.pk)
    return job, True


def _abandon_lost(launch: Launch, now: datetime) -> None:
    lost = PacketJob.objects.filter(launch=launch, status__in=ACTIVE,
                                    requested_at__lt=now - STALE_AFTER)  # fmt: skip
    lost.update(status=JobStatus.FAILED, finished_at=now, error="lost: no worker finished it")


def request_ready_packet(*, launch_slug: str, ready_event: int) -> PacketJob | None:
    """Queue the packet of a launch that just became ready: once per `launch.ready` event."""
    launch = Launch.objects.filter(slug=launch_slug).first()
    if launch is None:
        return None
    with transaction.atomic():
        job, created = PacketJob.objects.get_or_create(
            ready_event=ready_event,
            defaults={"launch": launch, "requested_by_name": READY_REQUESTER,
                      "requested_at": timezone.now()},
        )  # fmt: skip
        if created:
            record(actor="system", action="packet.requested", launch_slug=launch.slug,
                   obj_type="packet_job", obj_key=job.pk,
                   data={"ready_event": ready_event})  # fmt: skip
            build_later(BUILD_PACKET, job.pk)
    return job


def run_packet_job(*, job_id: int) -> Packet | None:
    """Build the job's packet: exactly one Packet and one `packet.built` event per job.

    Rendering runs outside any transaction; a redelivered task re-claims a job its killed
    predecessor left running, and does nothing for a done or failed job.
    """
    attempt = PacketJob.claim(job_id, timezone.now())
    if attempt is None:
        return None
    job = PacketJob.objects.select_related("launch", "requested_by").get(pk=job_id)
    try:
        rendered = render_stored(launch=job.launch, now=timezone.now())
    except Exception as exc:
        PacketJob.fail(job_id, attempt, exc)
        raise
    with transaction.atomic():
        if not PacketJob.finish(job_id, attempt):
            return None  # a later attempt took the job over; the stored PDF is unreferenced
        actor = job.requested_by or job.requested_by_name
        packet = save_packet(rendered, actor=actor, requested_at=job.requested_at)
        PacketJob.objects.filter(pk=job_id).update(packet=packet)
    return packet
