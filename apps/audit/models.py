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


class ChainHead(models.Model):
    """The newest event of one chain, kept beside the events so an emptied or restarted chain shows.

    record() moves it forward in the event's transaction; PostgreSQL refuses to delete it, to
    truncate its table, or to move it back. `first_hash` is the chain's event #1, so a chain that
    starts again from the zero hash is told apart from one whose tail was deleted.
    """

    chain = models.CharField(max_length=80, unique=True)
    sequence = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=64)
    first_hash = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.chain} head #{self.sequence} {self.hash[:16]}"
