"""Celery tasks: thin doors onto apps.reports.services."""

from datetime import datetime

from celery import shared_task
from django.contrib.auth import get_user_model

from apps.launches.models import Launch
from apps.reports import services


@shared_task(name="reports.build_packet")
def build_packet(launch_id: int, requested_by: int | None, requested_at: str | None = None) -> str:
    """Render and store a launch's packet for the user who asked; returns its SHA-256."""
    launch = Launch.objects.get(pk=launch_id)
    user = get_user_model().objects.filter(pk=requested_by).first() if requested_by else None
    when = datetime.fromisoformat(requested_at) if requested_at else None
    packet = services.build_packet(launch=launch, actor=user or "system", requested_at=when)
    return packet.sha256
