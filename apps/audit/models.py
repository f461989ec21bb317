from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """One state change, hash-chained to the one before it. Append-only.

    Names and slugs are copied so the record outlives deletions of what it speaks of.
    """

    sequence = models.PositiveBigIntegerField(unique=True)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=200)
    action = models.CharField(max_length=80, db_index=True)
    launch_slug = models.CharField(max_length=80, blank=True, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_key = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["sequence"]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.object_type}:{self.object_key}"
