from django.conf import settings
from django.db import models

from apps.launches.models import Launch


class PacketStatus(models.TextChoices):
    FINAL = "FINAL", "Final"
    INTERIM = "INTERIM", "Interim"


class PacketQuerySet(models.QuerySet):
    def for_launch(self, launch: Launch):
        """A launch's packets, newest first (the first is the latest)."""
        return self.filter(launch=launch).order_by("-requested_at", "-id")


class Packet(models.Model):
    """A rendered sign-off packet, stored once under MEDIA_ROOT/packets/ and never changed."""

    launch = models.ForeignKey(Launch, on_delete=models.PROTECT, related_name="packets")
    sha256 = models.CharField(max_length=64, unique=True)
    size = models.PositiveBigIntegerField()
    path = models.CharField(max_length=300, help_text="Relative to MEDIA_ROOT.")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=200)
    requested_at = models.DateTimeField()
    built_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=PacketStatus.choices)
    digest = models.CharField(max_length=64, help_text="The launch digest the packet carries.")
    chain_head = models.CharField(max_length=64, blank=True)

    objects = PacketQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=PacketStatus.values), name="packet_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.launch_id} {self.status} {self.sha256[:12]}"

    @property
    def filename(self) -> str:
        return f"{self.launch.slug}-packet-{self.built_at:%Y%m%dT%H%M%SZ}-{self.sha256[:12]}.pdf"
