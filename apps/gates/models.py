from datetime import timedelta
from decimal import Decimal

from django.db import models
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from apps.launches.models import Launch


class Source(models.TextChoices):
    PROMETHEUS = "prometheus", "Prometheus"
    REPORT = "report", "Report"
    MANUAL = "manual", "Manual attestation"


class Comparator(models.TextChoices):
    LT = "<", "<"
    LE = "<=", "<="
    GT = ">", ">"
    GE = ">=", ">="
    EQ = "==", "=="
    NE = "!=", "!="


class Dimension(models.TextChoices):
    """The Definition of Done dimensions of a launch."""

    TECHNICAL = "technical", "Technical readiness"
    OPERATIONAL = "operational", "Operational readiness"
    BUSINESS = "business", "Business readiness"
    COMPLIANCE = "compliance", "Compliance readiness"
    STAKEHOLDER = "stakeholder", "Stakeholder acceptance"


class GateStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PASSING = "passing", "Passing"
    FAILING = "failing", "Failing"
    UNKNOWN = "unknown", "Unknown"
    WAIVED = "waived", "Waived"


DEFAULT_INTERVAL = {
    Source.PROMETHEUS: timedelta(minutes=5),
    Source.REPORT: timedelta(hours=1),
    Source.MANUAL: timedelta(hours=24),
}


class PrometheusSource(models.Model):
    """A named Prometheus server a launch's gates may query instead of PROMETHEUS_URL."""

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="sources")
    key = models.SlugField(max_length=80)
    url = models.URLField(max_length=500)

    class Meta:
        ordering = ["launch", "key"]
        constraints = [
            models.UniqueConstraint(fields=["launch", "key"], name="source_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key


class GateQuerySet(models.QuerySet):
    def active(self):
        """Gates still in the launch's spec (a removed gate keeps its history, retired)."""
        return self.filter(retired_at__isnull=True)

    def with_latest_measurement(self):
        """Annotate each gate with its newest measurement's fields, in the same query."""
        newest = Measurement.objects.filter(gate=OuterRef("pk")).order_by("-evaluated_at", "-id")
        return self.annotate(
            latest_id=Subquery(newest.values("id")[:1]),
            latest_status=Subquery(newest.values("status")[:1]),
            latest_value=Subquery(newest.values("value")[:1]),
            latest_reason=Subquery(newest.values("reason")[:1]),
            latest_at=Subquery(newest.values("evaluated_at")[:1]),
        )

    def for_dashboard(self):
        """The active gates of a page, in spec order, each with its newest measurement."""
        return self.active().with_latest_measurement().order_by("order", "key")


class Gate(models.Model):
    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="gates")
    key = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    category = models.SlugField(max_length=50)
    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    blocking = models.BooleanField(default=True)
    source = models.CharField(max_length=20, choices=Source.choices)
    query = models.TextField(blank=True, help_text="PromQL, for Prometheus gates.")
    prometheus = models.ForeignKey(
        PrometheusSource, null=True, blank=True, on_delete=models.PROTECT, related_name="gates"
    )
    format = models.CharField(max_length=30, blank=True, help_text="Report format.")
    metric = models.CharField(max_length=80, blank=True, help_text="Metric read from the report.")
    comparator = models.CharField(max_length=2, choices=Comparator.choices)
    threshold = models.DecimalField(max_digits=24, decimal_places=6)
    unit = models.CharField(max_length=30)
    interval = models.DurationField()
    max_age = models.DurationField()
    for_count = models.PositiveSmallIntegerField(
        default=1, help_text="Consecutive agreeing evaluations before the status changes."
    )
    spec_ref = models.CharField(max_length=30, blank=True)
    description = models.TextField(blank=True)
    controls = models.JSONField(default=list, blank=True, help_text="SOC2 criteria, e.g. CC8.1.")
    order = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = GateQuerySet.as_manager()

    class Meta:
        ordering = ["launch", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["launch", "key"], name="gate_key_unique"),
            models.CheckConstraint(
                condition=models.Q(comparator__in=Comparator.values), name="gate_comparator_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(source__in=Source.values), name="gate_source_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(dimension__in=Dimension.values), name="gate_dimension_valid"
            ),
            models.CheckConstraint(condition=models.Q(for_count__gte=1), name="gate_for_positive"),
        ]

    def __str__(self) -> str:
        return self.key

    def rule_text(self) -> str:
        return f"{self.comparator} {format_decimal(self.threshold)} {self.unit}".strip()

    def status_from(self, *, measured_status, measured_at, now=None) -> tuple[str, str]:
        """(status, reason) from the newest measurement's status and time; stale is unknown."""
        if measured_status is None:
            return GateStatus.PENDING, "never measured"
        now = now or timezone.now()
        if measured_at < now - self.max_age:
            return GateStatus.UNKNOWN, "stale"
        return measured_status, ""

    def current_status(self, now=None) -> tuple[str, str]:
        """Status from the annotation of with_latest_measurement(), or one query without it."""
        if hasattr(self, "latest_status"):
            status, at = self.latest_status, self.latest_at
        else:
            newest = self.measurements.order_by("-evaluated_at", "-id").first()
            status, at = (newest.status, newest.evaluated_at) if newest else (None, None)
        return self.status_from(measured_status=status, measured_at=at, now=now)


class Measurement(models.Model):
    """One evaluation of a gate: a fact, never updated, never deleted."""

    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="measurements")
    status = models.CharField(max_length=20, choices=GateStatus.choices)
    value = models.DecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    reason = models.TextField(blank=True)
    source_detail = models.JSONField(default=dict, blank=True)
    evidence_sha256 = models.CharField(max_length=64, blank=True)
    evaluated_at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-evaluated_at", "-id"]
        indexes = [models.Index(fields=["gate", "-evaluated_at"], name="measurement_gate_newest")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=GateStatus.values), name="measurement_status_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.gate_id} {self.status} {self.value}"


def format_decimal(value: Decimal | None) -> str:
    """99.900000 -> '99.9', 85.000000 -> '85'; never scientific notation."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
