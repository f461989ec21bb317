from datetime import timedelta

from django.apps import apps
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.launches.durations import format_offset

WAIVER_MAX_DAYS = 30  # the longest waiver, unless the launch spec says otherwise


class LaunchStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    CERTIFYING = "certifying", "Certifying"
    GO = "go", "Go"
    NO_GO = "no-go", "No-Go"
    LAUNCHED = "launched", "Launched"
    CLOSED = "closed", "Closed"


class LaunchQuerySet(models.QuerySet):
    def with_counts(self):
        """Each launch with its number of active gates, of phases and of required roles, in one
        query (a subquery each: joining the three would multiply their rows)."""
        return self.annotate(
            gate_count=_count("gates", "Gate", retired_at__isnull=True),
            phase_count=_count("launches", "Phase"),
            required_roles=_count("signoffs", "Role", required=True, retired_at__isnull=True),
        )


def _count(app: str, model: str, **filters):
    rows = apps.get_model(app, model).objects.filter(launch=models.OuterRef("pk"), **filters)
    counted = rows.order_by().values("launch").annotate(n=models.Count("pk")).values("n")
    return Coalesce(models.Subquery(counted), 0)


class Launch(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=50)
    target_t0 = models.DateTimeField(help_text="T-0: when the deployment starts (UTC).")
    start_date = models.DateField(help_text="The first day of week 1 of the timeline.")
    status = models.CharField(
        max_length=20, choices=LaunchStatus.choices, default=LaunchStatus.PLANNING
    )
    description = models.TextField(blank=True)
    ready_at = models.DateTimeField(
        null=True, blank=True, help_text="Since when every blocking gate and required role holds."
    )
    decision_role = models.CharField(
        max_length=80, blank=True,
        help_text="The key of the role whose holder records the Go/No-Go (blank: nobody may).",
    )  # fmt: skip
    waiver_max_days = models.PositiveIntegerField(
        default=WAIVER_MAX_DAYS, help_text="The longest a waiver may run, in days."
    )
    waivers_outlast_launch = models.BooleanField(
        default=False, help_text="Whether a waiver may run past T+24h."
    )
    signers_need_mfa = models.BooleanField(
        default=False, help_text="Whether signers must confirm with an authenticator app."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = LaunchQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "launches"
        ordering = ["target_t0", "slug"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=LaunchStatus.values), name="launch_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(waiver_max_days__gte=1), name="launch_waiver_max_days_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def days_to_t0(self, now=None) -> int:
        now = now or timezone.now()
        return (self.target_t0.date() - now.date()).days

    def current_decision(self):
        """The Go/No-Go in force: the newest decision, which no later one superseded."""
        return self.decisions.current().first()

    def current_week(self, now=None) -> int:
        """The timeline week `now` falls in (week 1 starts on start_date)."""
        today = (now or timezone.now()).date()
        return (today - self.start_date).days // 7 + 1


class Phase(models.Model):
    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="phases")
    code = models.CharField(max_length=20)
    name = models.CharField(max_length=200)
    start_week = models.PositiveSmallIntegerField()
    end_week = models.PositiveSmallIntegerField()
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["launch", "order", "code"]
        constraints = [
            models.UniqueConstraint(fields=["launch", "code"], name="phase_code_unique"),
            models.CheckConstraint(
                condition=models.Q(start_week__gte=1, end_week__gte=models.F("start_week")),
                name="phase_weeks_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class ActivityStatus(models.TextChoices):
    TODO = "todo", "To do"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    BLOCKED = "blocked", "Blocked"


class Activity(models.Model):
    phase = models.ForeignKey(Phase, on_delete=models.CASCADE, related_name="activities")
    name = models.CharField(max_length=200)
    owner = models.CharField(max_length=200, blank=True)
    planned_week = models.PositiveSmallIntegerField()
    status = models.CharField(
        max_length=20, choices=ActivityStatus.choices, default=ActivityStatus.TODO
    )
    completed_at = models.DateTimeField(null=True, blank=True)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["phase", "order", "id"]
        verbose_name_plural = "activities"
        constraints = [
            models.UniqueConstraint(fields=["phase", "name"], name="activity_name_unique"),
            models.CheckConstraint(
                condition=models.Q(status__in=ActivityStatus.values), name="activity_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class StepStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DONE = "done", "Done"
    SKIPPED = "skipped", "Skipped"


class SequenceStep(models.Model):
    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="sequence")
    offset = models.DurationField(help_text="Relative to T-0: negative before, positive after.")
    name = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=StepStatus.choices, default=StepStatus.PENDING)
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["launch", "offset", "order"]
        constraints = [
            models.UniqueConstraint(fields=["launch", "offset", "name"], name="step_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.label} {self.name}"

    @property
    def label(self) -> str:
        """T-24h, T-0, T+24h."""
        if self.offset == timedelta(0):
            return "T-0"
        return f"T{format_offset(self.offset)}"

    def scheduled_at(self):
        return self.launch.target_t0 + self.offset
