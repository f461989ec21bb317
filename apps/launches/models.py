from dataclasses import dataclass
from datetime import datetime, timedelta

from django.apps import apps
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.audit.models import people_head
from apps.launches.durations import format_offset
from portal.prepared import PreparedQuery

WAIVER_MAX_DAYS = 30  # the longest waiver, unless the launch spec says otherwise
CLOSED_MESSAGE = "This launch is closed"


class LaunchClosed(Exception):
    """A write to a closed launch: refused (HTTP 409), nothing changed."""

    def __init__(self, launch: "Launch"):
        super().__init__(f"{CLOSED_MESSAGE}: {launch.closed_text()}")
        self.launch = launch


class LaunchStatus(models.TextChoices):
    PLANNING = "planning", "Planning"
    CERTIFYING = "certifying", "Certifying"
    GO = "go", "Go"
    NO_GO = "no-go", "No-Go"
    LAUNCHED = "launched", "Launched"
    CLOSED = "closed", "Closed"


@dataclass(frozen=True)
class Shift:
    """One entry of the spec's `on_call` rota: who is reachable for what, and when."""

    role: str  # Primary, Secondary, Escalation
    name: str
    contact: str = ""
    starts: datetime | None = None  # None: on since ever
    ends: datetime | None = None  # None: on for good

    @classmethod
    def from_json(cls, data: dict) -> "Shift":
        start, end = data.get("from"), data.get("until")
        return cls(
            data["role"], data["name"], data.get("contact", ""),
            datetime.fromisoformat(start) if start else None,
            datetime.fromisoformat(end) if end else None,
        )  # fmt: skip

    def is_on(self, now: datetime) -> bool:
        started = self.starts is None or self.starts <= now
        return started and (self.ends is None or now < self.ends)


class LaunchQuerySet(models.QuerySet):
    def with_record_version(self):
        """Each launch with `record_version`, the hash of its newest audit event of what people
        did (apps.audit people_head: sign-offs, roles, assignments, conditions, requests,
        decisions): what is kept under it follows every such change of the launch."""
        return self.annotate(record_version=people_head())

    def with_counts(self):
        """Each launch with its number of required roles, in the query that loads it (its gates
        are counted by apps.gates.summary.active_gate_counts, kept in the cache: counting them
        in this query read every gate row, 4 of its 5 ms on the bench data)."""
        return self.annotate(
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
    closed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a launch admin closed it: read-only since."
    )
    closed_by_name = models.CharField(max_length=200, blank=True)
    closure_reason = models.TextField(
        blank=True, help_text="Why it was closed although post-launch validation did not pass."
    )
    # The metrics summary report issued on closing (a signed PDF under MEDIA_ROOT, never changed).
    summary_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    summary_path = models.CharField(max_length=300, blank=True, help_text="Relative to MEDIA_ROOT.")
    summary_size = models.PositiveBigIntegerField(null=True, blank=True)
    on_call = models.JSONField(
        default=list, blank=True,
        help_text="The spec's on-call rota: shifts of role, name, contact, from and until (ISO).",
    )  # fmt: skip
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

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None

    def closed_text(self) -> str:
        """What every page of a closed launch says."""
        return f"Closed on {self.closed_at:%Y-%m-%d} by {self.closed_by_name} — read-only"

    def refuse_if_closed(self) -> None:
        """The one rule every write to a launch goes through: a closed launch is read-only.

        Reads the row (not this instance, which may predate the closure); raises LaunchClosed.
        """
        found = _CLOSURE_OF(launch_id=self.pk)
        if found:
            self.closed_at, self.closed_by_name = found[0]
            raise LaunchClosed(self)

    def shifts(self) -> list[Shift]:
        return [Shift.from_json(item) for item in self.on_call]

    def on_duty(self, now: datetime) -> list[Shift]:
        """The one home of "who is on now": the rota's shifts whose from/until contain `now`."""
        return [shift for shift in self.shifts() if shift.is_on(now)]

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


def closed_launch(slug: str) -> Launch | None:
    """The launch `slug` if it is closed, otherwise None (the closed-launch middleware's read of
    every write to a launch's URL)."""
    return _CLOSED_NAMED.first(slug=slug)


# Launch.refuse_if_closed()'s and closed_launch()'s reads: queries built once per process
# (portal.prepared), asked on every write.
_CLOSURE_OF = PreparedQuery(
    lambda launch_id: (
        Launch.objects.filter(pk=launch_id, closed_at__isnull=False)
        .values_list("closed_at", "closed_by_name")
        .order_by()
    ),
    launch_id=int,
)
_CLOSED_NAMED = PreparedQuery(
    lambda slug: Launch.objects.filter(slug=slug, closed_at__isnull=False).order_by(), slug=str
)


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
    # The schedule (apps/launches/schedule.py): spec `key`, `start_week`, `after`, `go_no_go`.
    key = models.SlugField(max_length=80, blank=True, help_text="Unique in the launch.")
    start_week = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The first week of work (blank: the planned week only)."
    )
    after = models.JSONField(
        default=list, blank=True, help_text="Keys of the activities this one waits for."
    )
    go_no_go = models.BooleanField(default=False, help_text="T-0 waits for this activity.")
    gates = models.ManyToManyField(
        "gates.Gate", blank=True, related_name="activities",
        help_text="The gates that are evidence for this activity (spec: `activity:` on a gate).",
    )  # fmt: skip

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

    def set_status(self, status: str) -> None:
        """Its status: becoming done records when (once), anything else but done clears it."""
        if status == ActivityStatus.DONE and self.status != ActivityStatus.DONE:
            self.completed_at = timezone.now()
        elif status != ActivityStatus.DONE:
            self.completed_at = None
        self.status = status

    @property
    def first_week(self) -> int:
        return self.start_week or self.planned_week


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
