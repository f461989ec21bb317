"""Launch day: the rollout a launch spec plans (stages, rollback triggers, post-launch checks) and
the runs that analyse it against Prometheus, every reading kept as evidence."""

from datetime import timedelta

from django.db import models
from django.utils import timezone

from apps.gates.models import Comparator, GateStatus, format_decimal
from apps.launches.models import Launch

# The T-0 window in which a deploy tool may start a rollout (8.4: war room at T-1h, deployment
# at T-0, critical monitoring until T+24h).
WINDOW_OPENS = timedelta(hours=-1)
WINDOW_CLOSES = timedelta(hours=24)

# Analysis settings a spec leaves out.
DEFAULT_INTERVAL = timedelta(minutes=1)
DEFAULT_COUNT = 3
DEFAULT_FAILURE_LIMIT = 2
DEFAULT_INCONCLUSIVE_LIMIT = 3
DEFAULT_BASELINE_OFFSET = timedelta(days=7)


class Rollout(models.Model):
    """A launch's rollout plan from its spec, with the analysis settings of its runs."""

    launch = models.OneToOneField(Launch, on_delete=models.CASCADE, related_name="rollout")
    interval = models.DurationField(default=DEFAULT_INTERVAL)
    count = models.PositiveSmallIntegerField(
        default=DEFAULT_COUNT, help_text="Consecutive passing analyses a stage needs."
    )
    failure_limit = models.PositiveSmallIntegerField(
        default=DEFAULT_FAILURE_LIMIT, help_text="Failed analyses at which a stage fails."
    )
    inconclusive_limit = models.PositiveSmallIntegerField(
        default=DEFAULT_INCONCLUSIVE_LIMIT,
        help_text="Unknown analyses at which a stage is inconclusive.",
    )
    post_launch_window = models.DurationField(null=True, blank=True)
    baseline_offset = models.DurationField(null=True, blank=True)

    def __str__(self) -> str:
        return f"rollout of {self.launch.slug}"

    def window(self) -> tuple:
        """When a deploy tool may start a run: [T-0 - 1h, T-0 + 24h]."""
        t0 = self.launch.target_t0
        return t0 + WINDOW_OPENS, t0 + WINDOW_CLOSES


class RolloutStage(models.Model):
    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="stages")
    name = models.SlugField(max_length=80)
    order = models.PositiveSmallIntegerField()
    traffic = models.PositiveSmallIntegerField(help_text="Percent of the traffic.")
    duration = models.DurationField(
        null=True, blank=True, help_text="How long the stage runs at least (blank: no minimum)."
    )

    class Meta:
        ordering = ["rollout", "order"]
        constraints = [
            models.UniqueConstraint(fields=["rollout", "name"], name="rollout_stage_name_unique"),
            models.CheckConstraint(
                condition=models.Q(traffic__gte=1, traffic__lte=100), name="stage_traffic_percent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.traffic}%)"


class CriterionKind(models.TextChoices):
    STAGE = "stage", "Stage criterion"
    TRIGGER = "trigger", "Rollback trigger"
    POST_LAUNCH = "post_launch", "Post-launch check"


class RolloutCriterion(models.Model):
    """A PromQL rule: a stage's criterion (holds: healthy), a rollback trigger (holds: roll
    back) or a post-launch check. `{{window}}` and `{{stage_start}}` are filled in when read."""

    rollout = models.ForeignKey(Rollout, on_delete=models.CASCADE, related_name="criteria")
    stage = models.ForeignKey(
        RolloutStage, null=True, blank=True, on_delete=models.CASCADE, related_name="criteria"
    )
    kind = models.CharField(max_length=20, choices=CriterionKind.choices)
    name = models.SlugField(max_length=80)
    order = models.PositiveSmallIntegerField(default=0)
    query = models.TextField()
    comparator = models.CharField(max_length=2, choices=Comparator.choices)
    threshold = models.DecimalField(max_digits=24, decimal_places=6)
    unit = models.CharField(max_length=30)

    class Meta:
        ordering = ["rollout", "kind", "stage", "order"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="stage", stage__isnull=False)
                | (~models.Q(kind="stage") & models.Q(stage__isnull=True)),
                name="criterion_stage_iff_stage_kind",
            ),
            models.UniqueConstraint(
                fields=["stage", "name"], condition=models.Q(stage__isnull=False),
                name="criterion_name_unique_in_stage",
            ),
            models.UniqueConstraint(
                fields=["rollout", "kind", "name"], condition=models.Q(stage__isnull=True),
                name="criterion_name_unique_in_kind",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.name}: {self.rule_text()}"

    def rule_text(self) -> str:
        return f"{self.comparator} {format_decimal(self.threshold)} {self.unit}"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"  # every stage passed
    FAILED = "failed", "Failed"  # a stage reached its failure limit
    INCONCLUSIVE = "inconclusive", "Inconclusive"  # a stage reached its inconclusive limit
    ROLLBACK = "rollback", "Rollback"  # a trigger fired, or the Go was withdrawn
    SUPERSEDED = "superseded", "Superseded"  # the deploy tool started a new canary revision


ENDED = (
    RunStatus.PASSED,
    RunStatus.FAILED,
    RunStatus.INCONCLUSIVE,
    RunStatus.ROLLBACK,
    RunStatus.SUPERSEDED,
)
ROLLED_BACK = (RunStatus.FAILED, RunStatus.ROLLBACK)  # the deploy tool is told to roll back


class Driver(models.TextChoices):
    DEPLOY_TOOL = "deploy_tool", "The deploy tool confirms each traffic increase"
    PORTAL = "portal", "The portal moves on when a stage passes"


class RolloutRunQuerySet(models.QuerySet):
    def due(self, now):
        """Running runs whose next analysis is due (the beat tick claims them)."""
        return self.filter(status=RunStatus.RUNNING, next_due_at__lte=now).order_by("next_due_at")


class RolloutRun(models.Model):
    """One rollout of a launch, from its start to its end. Keeps the analysis settings it started
    with, so that a spec re-imported mid-run does not change the rules of a run under way."""

    launch = models.ForeignKey(Launch, on_delete=models.PROTECT, related_name="rollout_runs")
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.RUNNING)
    reason = models.TextField(blank=True, help_text="Why the run ended as it did.")
    driver = models.CharField(max_length=20, choices=Driver.choices)
    started_by = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    current_order = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The order of the stage under way (blank: none yet)."
    )
    checksum = models.CharField(
        max_length=100, blank=True, help_text="Flagger's checksum of the canary revision."
    )
    interval = models.DurationField()
    count = models.PositiveSmallIntegerField()
    failure_limit = models.PositiveSmallIntegerField()
    inconclusive_limit = models.PositiveSmallIntegerField()
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = RolloutRunQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=RunStatus.values), name="rollout_run_status_valid"
            ),
            # One run under way per launch: two deploy tools asking at once start one run.
            models.UniqueConstraint(
                fields=["launch"], condition=models.Q(status="running"),
                name="rollout_one_running_run",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"run {self.pk} of {self.launch.slug}: {self.status}"

    def current_stage(self) -> "StageRun | None":
        if self.current_order is None:
            return None
        return self.stages.select_related("stage").filter(order=self.current_order).first()


class StageStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ANALYSING = "analysing", "Analysing"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


class StageRun(models.Model):
    """A stage of a run, with copies of the stage's settings and the tally of its analyses."""

    run = models.ForeignKey(RolloutRun, on_delete=models.CASCADE, related_name="stages")
    stage = models.ForeignKey(
        RolloutStage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    order = models.PositiveSmallIntegerField()
    name = models.SlugField(max_length=80)
    traffic = models.PositiveSmallIntegerField()
    duration = models.DurationField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=StageStatus.choices, default=StageStatus.PENDING
    )
    started_at = models.DateTimeField(null=True, blank=True)
    passed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    passes_in_row = models.PositiveIntegerField(default=0)
    failures = models.PositiveIntegerField(default=0)
    inconclusives = models.PositiveIntegerField(default=0)
    analyses = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["run", "order"]
        constraints = [
            models.UniqueConstraint(fields=["run", "order"], name="stage_run_order_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.traffic}%): {self.status}"

    def elapsed(self, now=None):
        if self.started_at is None:
            return timedelta(0)
        return (self.finished_at or now or timezone.now()) - self.started_at


class AnalysisReading(models.Model):
    """One reading of a criterion or trigger during a run: a fact, like a gate's measurement.

    Copies the rule as it was read (name, the query with its placeholders filled in, comparator,
    threshold) so that it outlives later changes to the spec. A trigger's status is `failing`
    when it fired, `passing` when it did not.
    """

    run = models.ForeignKey(RolloutRun, on_delete=models.CASCADE, related_name="readings")
    stage = models.ForeignKey(
        StageRun, null=True, blank=True, on_delete=models.CASCADE, related_name="readings"
    )
    criterion = models.ForeignKey(
        RolloutCriterion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=20, choices=CriterionKind.choices)
    name = models.SlugField(max_length=80)
    query = models.TextField()
    comparator = models.CharField(max_length=2, choices=Comparator.choices)
    threshold = models.DecimalField(max_digits=24, decimal_places=6)
    unit = models.CharField(max_length=30)
    value = models.DecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    status = models.CharField(max_length=20, choices=GateStatus.choices)
    reason = models.TextField(blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()
    slot = models.DateTimeField(help_text="The analysis this reading belongs to.")

    class Meta:
        ordering = ["run", "-at", "kind", "name"]
        indexes = [models.Index(fields=["run", "-slot"], name="reading_run_newest")]
        constraints = [
            # A redelivered analysis finds its slot taken.
            models.UniqueConstraint(
                fields=["run", "kind", "name", "slot"], name="reading_one_per_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.status} {self.value}"


class HookCall(models.Model):
    """A deploy tool's request to a hook (Flagger's body, validated) and the portal's answer."""

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="+")
    run = models.ForeignKey(
        RolloutRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="hook_calls"
    )
    hook = models.CharField(max_length=40)
    body = models.JSONField()
    status_code = models.PositiveSmallIntegerField()
    answer = models.TextField()
    caller = models.CharField(max_length=200)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.hook} -> {self.status_code}"


# --- after the launch: post-launch validation (8.5) ----------------------------------------------

DEFAULT_POST_LAUNCH_WINDOW = timedelta(hours=24)


class ValidationStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PASSED = "passed", "Passed"  # every check passing at the end, failures under the limit
    FAILED = "failed", "Failed"
    INCONCLUSIVE = "inconclusive", "Inconclusive"  # a check unknown at the end


class PostLaunchValidationQuerySet(models.QuerySet):
    def due(self, now):
        """Validations under way whose next analysis is due (the beat tick claims them)."""
        return self.filter(status=ValidationStatus.RUNNING, next_due_at__lte=now).order_by(
            "next_due_at"
        )


class PostLaunchValidation(models.Model):
    """The post-launch window of a launch (8.5): its checks read on the rollout's interval, each
    beside the same query `baseline_offset` earlier, judged when the window has elapsed. Keeps the
    settings it started with, like a run."""

    launch = models.ForeignKey(Launch, on_delete=models.PROTECT, related_name="validations")
    run = models.ForeignKey(
        RolloutRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="The rollout run whose passing started it (blank: started by a launch admin).",
    )  # fmt: skip
    status = models.CharField(
        max_length=20, choices=ValidationStatus.choices, default=ValidationStatus.RUNNING
    )
    reason = models.TextField(blank=True, help_text="Why the validation ended as it did.")
    started_by = models.CharField(max_length=200)
    started_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    interval = models.DurationField()
    baseline_offset = models.DurationField()
    failure_limit = models.PositiveSmallIntegerField()
    inconclusive_limit = models.PositiveSmallIntegerField()
    failures = models.PositiveIntegerField(default=0)
    inconclusives = models.PositiveIntegerField(default=0)
    analyses = models.PositiveIntegerField(default=0)
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)

    objects = PostLaunchValidationQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ValidationStatus.values),
                name="validation_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("started_at")),
                name="validation_window_positive",
            ),
            # One validation under way per launch: a run passing while an admin starts one.
            models.UniqueConstraint(
                fields=["launch"], condition=models.Q(status="running"),
                name="validation_one_running",
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"post-launch validation {self.pk} of {self.launch.slug}: {self.status}"

    @property
    def window(self) -> timedelta:
        return self.ends_at - self.started_at


class PostLaunchReading(models.Model):
    """One reading of a post-launch check with its baseline (the same query `baseline_offset`
    earlier): a fact, with copies of the rule and both queries as sent."""

    validation = models.ForeignKey(
        PostLaunchValidation, on_delete=models.CASCADE, related_name="readings"
    )
    criterion = models.ForeignKey(
        RolloutCriterion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    name = models.SlugField(max_length=80)
    order = models.PositiveSmallIntegerField(default=0)
    query = models.TextField()
    baseline_query = models.TextField()
    comparator = models.CharField(max_length=2, choices=Comparator.choices)
    threshold = models.DecimalField(max_digits=24, decimal_places=6)
    unit = models.CharField(max_length=30)
    value = models.DecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    baseline = models.DecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    status = models.CharField(max_length=20, choices=GateStatus.choices)
    reason = models.TextField(blank=True)
    baseline_reason = models.TextField(blank=True, help_text="Why there is no baseline value.")
    detail = models.JSONField(default=dict, blank=True)
    baseline_detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField()
    slot = models.DateTimeField(help_text="The analysis this reading belongs to.")

    class Meta:
        ordering = ["validation", "-slot", "order", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["validation", "name", "slot"], name="postlaunch_reading_one_per_slot"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.status} {self.value} (baseline {self.baseline})"
