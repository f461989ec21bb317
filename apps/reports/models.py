from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone

from apps.launches.models import Launch


def actor_name(actor) -> str:
    """What `requested_by_name` keeps: a user's full name (or username), or the name given for a
    command or the system."""
    if isinstance(actor, str):
        return actor
    return actor.get_full_name() or actor.get_username()


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


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING)
MAX_ATTEMPTS = 3  # a render killed by the hard time limit every time must not loop forever


class Job(models.Model):
    """What every background job of the reports app records: who asked, and its attempts.

    A task is redelivered (acks_late, reject_on_worker_lost) when its worker dies mid-run. The
    row makes that safe: a conditional UPDATE claims a queued or running job for one more attempt
    (`claim`), and only the attempt that still holds the claim may mark it done and write its
    audit event (`finish`) or failed (`fail`); a done or failed job is left alone.
    """

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=200)
    requested_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=JobStatus.choices, default=JobStatus.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        abstract = True
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self._meta.verbose_name} {self.pk} {self.status}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    @classmethod
    def claim(cls, job_id: int, now: datetime) -> int | None:
        """Take a queued or running job for one more attempt; its number, or None (not ours).

        The UPDATE's row count says who won: two deliveries of one task never both hold a job.
        """
        jobs = cls.objects.filter(pk=job_id, status__in=ACTIVE)
        won = jobs.filter(attempts__lt=MAX_ATTEMPTS).update(
            status=JobStatus.RUNNING, attempts=F("attempts") + 1, started_at=now
        )
        if not won:
            jobs.update(status=JobStatus.FAILED, finished_at=now,
                        error=f"given up after {MAX_ATTEMPTS} attempts")  # fmt: skip
            return None
        return cls.objects.values_list("attempts", flat=True).get(pk=job_id)

    @classmethod
    def finish(cls, job_id: int, attempt: int, **fields) -> bool:
        """Mark the job done if this attempt still holds it; call inside the audit's transaction."""
        holding = cls.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt)
        return bool(holding.update(status=JobStatus.DONE, finished_at=timezone.now(), **fields))

    @classmethod
    def fail(cls, job_id: int, attempt: int, exc: BaseException) -> None:
        """Mark the job failed with `exc` if this attempt still holds it."""
        holding = cls.objects.filter(pk=job_id, status=JobStatus.RUNNING, attempts=attempt)
        holding.update(status=JobStatus.FAILED, finished_at=timezone.now(),
                       error=f"{type(exc).__name__}: {exc}"[:2000])  # fmt: skip


class PacketJob(Job):
    """A request for a packet, claimed by one task at a time; at most one queued or running.

    Requests by people share the one active job of their launch (a partial unique index).
    A job built because the launch became ready names that `launch.ready` audit event, once.
    """

    launch = models.ForeignKey(Launch, on_delete=models.PROTECT, related_name="packet_jobs")
    ready_event = models.PositiveBigIntegerField(
        null=True, blank=True, unique=True, help_text="The launch.ready audit event's id."
    )
    packet = models.OneToOneField(
        Packet, null=True, blank=True, on_delete=models.PROTECT, related_name="job"
    )

    class Meta(Job.Meta):
        constraints = [
            models.UniqueConstraint(
                fields=["launch"],
                condition=models.Q(status__in=ACTIVE, ready_event__isnull=True),
                name="packetjob_one_active_request_per_launch",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values), name="packetjob_status_valid"
            ),
        ]


class ExportJob(Job):
    """An evidence export built by a Celery task into the evidence store, for large launches."""

    launch = models.ForeignKey(Launch, on_delete=models.PROTECT, related_name="export_jobs")
    filters = models.JSONField(default=dict, blank=True, help_text="since, until, categories.")
    path = models.CharField(max_length=300, blank=True, help_text="Relative to MEDIA_ROOT.")
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta(Job.Meta):
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=JobStatus.values), name="exportjob_status_valid"
            ),
        ]

    @property
    def filename(self) -> str:
        return f"{self.launch.slug}-evidence-{self.pk}-{self.sha256[:12]}.zip"


class IssuedExport(models.Model):
    """An evidence export the portal produced, streamed or built by a job: /verify/ knows it by
    the SHA-256 of its ZIP, or of its signed manifest.json (the same export re-zipped)."""

    launch = models.ForeignKey(Launch, on_delete=models.PROTECT, related_name="issued_exports")
    sha256 = models.CharField(max_length=64, db_index=True, help_text="The ZIP's SHA-256.")
    manifest_sha256 = models.CharField(max_length=64, db_index=True)
    # Unknown for exports streamed before issue 17 (filled in from their audit events).
    size = models.PositiveBigIntegerField(null=True, blank=True)
    issued_at = models.DateTimeField()
    job = models.OneToOneField(
        ExportJob, null=True, blank=True, on_delete=models.PROTECT, related_name="issued"
    )

    class Meta:
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return f"{self.launch_id} export {self.sha256[:12]}"
