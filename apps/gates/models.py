from datetime import datetime, timedelta
from decimal import Context, Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.launches.models import Launch
from portal.prepared import PreparedQuery


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
    # Secrets stay out of specs and the database: these name environment variables holding them.
    bearer_token_env = models.CharField(max_length=100, blank=True)
    basic_auth_user = models.CharField(max_length=100, blank=True)
    basic_auth_password_env = models.CharField(max_length=100, blank=True)
    verify_tls = models.BooleanField(default=True)

    class Meta:
        ordering = ["launch", "key"]
        constraints = [
            models.UniqueConstraint(fields=["launch", "key"], name="source_key_unique"),
        ]

    def __str__(self) -> str:
        return self.key

    def credentials(self) -> dict:
        """The keyword arguments of prometheus.read() for this source's authentication."""
        import os

        out: dict = {"verify_tls": self.verify_tls}
        if self.bearer_token_env:
            out["bearer_token"] = os.environ.get(self.bearer_token_env, "")
        if self.basic_auth_user:
            password = os.environ.get(self.basic_auth_password_env, "")
            out["basic_auth"] = (self.basic_auth_user, password)
        return out


SIX_PLACES = Decimal("0.000001")  # Measurement.value's scale, as the column reads back
VALUE_CONTEXT = Context(prec=40)  # the default 28 digits cannot quantize a 30-digit value
SQLITE_DIGITS = Context(prec=15)  # what a REAL of SQLite keeps of a number's digits


class ExactDecimalField(models.DecimalField):
    """numeric(max_digits, decimal_places) that reads back the value written, on both databases.

    SQLite turns a decimal into a REAL, which keeps 15 significant digits: a value with more
    (999999999999999999999999.123456) came back rounded, and too long to quantize. There it is
    stored as its text (bytes: a NUMERIC column would turn text back into a REAL); every other
    value stays a number, so that MIN, MAX, AVG and ORDER BY still work on it.
    """

    def get_internal_type(self) -> str:
        return "ExactDecimalField"  # not "DecimalField": SQLite's converter would round it

    def db_type(self, connection) -> str:
        return connection.data_types["DecimalField"] % self.db_type_parameters(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        value = super().get_db_prep_value(value, connection, prepared)
        if connection.vendor == "sqlite" and isinstance(value, Decimal) and _too_long(value):
            return format(value, "f").encode()
        return value

    def from_db_value(self, value, expression, connection):
        if value is None or isinstance(value, Decimal):  # PostgreSQL's numeric
            return value
        if isinstance(value, bytes):
            value = Decimal(value.decode())
        elif isinstance(value, float):  # a REAL holds the 15 digits it was given exactly
            value = SQLITE_DIGITS.create_decimal_from_float(value)
        return Decimal(value).quantize(SIX_PLACES, context=VALUE_CONTEXT)


def _too_long(value: Decimal) -> bool:
    return len(value.normalize().as_tuple().digits) > SQLITE_DIGITS.prec


SPARK_POINTS = 20  # a gate row's sparkline draws its newest measurements, this many


def spark_point(measurement: "Measurement") -> list:
    """A measurement as Gate.spark_points keeps it: [value as a float (as drawn), status]."""
    value = None if measurement.value is None else float(measurement.value)
    return [value, measurement.status]


class GateQuerySet(models.QuerySet):
    def active(self):
        """Gates still in the launch's spec (a removed gate keeps its history, retired)."""
        return self.filter(retired_at__isnull=True)

    def categories(self):
        """The distinct categories of the active gates, in order (the pages' category filters)."""
        return self.active().order_by("category").values_list("category", flat=True).distinct()

    def for_dashboard(self, now):
        """The active gates of a page, in spec order, each with the waiver covering it as of
        `now` (one join); the newest measurement is kept on the gate itself."""
        return self.active().with_active_waiver(now).order_by("order", "key")

    def with_active_waiver(self, now):
        """Join each gate's covering waiver, and remember `now` as the moment the waiver_*
        attributes show it at (an expired covering waiver shows as none)."""
        moment = models.Value(now, output_field=models.DateTimeField())
        return self.select_related("covering_waiver").annotate(waiver_shown_at=moment)

    def may_block(self, now):
        """Blocking active gates that current_status(now) may not judge passing: a gate passing
        on fresh evidence is passing whatever else holds, so readiness need not load it."""
        fresh = models.ExpressionWrapper(
            models.Value(now) - models.F("max_age"), output_field=models.DateTimeField()
        )
        passing = models.Q(state=GateStatus.PASSING, last_measured_at__isnull=False,
                           last_evidence_at__gte=fresh)  # fmt: skip
        return self.active().filter(blocking=True).exclude(passing)

    def due(self, now):
        """Polled gates whose next evaluation is due (never evaluated ones first)."""
        polled = models.Q(source=Source.PROMETHEUS) | ~models.Q(pull_url="")
        due = models.Q(next_due_at__isnull=True) | models.Q(next_due_at__lte=now)
        return (
            self.active()
            .filter(polled & due)
            .order_by(models.F("next_due_at").asc(nulls_first=True), "id")
        )


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
    success_criterion = models.CharField(
        max_length=60, blank=True,
        help_text="The launch success criterion this gate measures (e.g. Availability).",
    )  # fmt: skip
    pull_url = models.URLField(
        max_length=500, blank=True, help_text="Report gates: a URL to poll for the latest report."
    )
    order = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)

    # State kept by the evaluation service (workers write these: save(update_fields=...)).
    state = models.CharField(max_length=20, choices=GateStatus.choices, default=GateStatus.PENDING)
    state_reason = models.TextField(blank=True)
    state_since = models.DateTimeField(null=True, blank=True)
    streak_status = models.CharField(max_length=20, blank=True)
    streak_count = models.PositiveIntegerField(default=0)
    last_measured_at = models.DateTimeField(null=True, blank=True)
    last_evidence_at = models.DateTimeField(
        null=True, blank=True, help_text="The newest reading that gave a value (not an error)."
    )
    next_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    pull_etag = models.CharField(max_length=200, blank=True)
    pull_last_modified = models.CharField(max_length=100, blank=True)

    # The newest measurement (NEWEST_FIRST), kept in the transaction that writes measurements,
    # so that pages read it at no cost. Not indexed: it changes on every evaluation, and an
    # index would cost every gate UPDATE its HOT path.
    latest_measurement = models.ForeignKey(
        "Measurement", null=True, blank=True, editable=False, db_index=False,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip
    latest_evaluated_at = models.DateTimeField(null=True, blank=True, editable=False)
    latest_value = ExactDecimalField(
        max_digits=30, decimal_places=6, null=True, blank=True, editable=False
    )
    latest_reason = models.TextField(blank=True, editable=False)
    latest_evidence = models.CharField(
        max_length=64, blank=True, editable=False, help_text="The newest measurement's SHA-256."
    )
    # The newest SPARK_POINTS measurements (NEWEST_FIRST) as spark_point()s, oldest first: what
    # the gate's row draws, kept with the newest measurement (a page reads no measurement).
    spark_points = models.JSONField(default=list, blank=True, editable=False)
    # The granted, unrevoked waiver that runs longest (Waiver.objects.covering()), kept by the
    # services that grant and revoke waivers; it covers the gate while it has not expired.
    covering_waiver = models.ForeignKey(
        "Waiver", null=True, blank=True, editable=False, db_index=False,
        on_delete=models.SET_NULL, related_name="+",
    )  # fmt: skip

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

    @property
    def max_age_text(self) -> str:
        """max_age as people say it: 14d, 1h, 90m."""
        from apps.launches.durations import format_duration

        return format_duration(self.max_age)

    def rule_text(self) -> str:
        return f"{self.comparator} {format_decimal(self.threshold)} {self.unit}".strip()

    @property
    def is_polled(self) -> bool:
        """Whether workers fetch this gate's evidence (others are pushed or attested)."""
        return self.source == Source.PROMETHEUS or bool(self.pull_url)

    @property
    def latest_id(self) -> int | None:
        return self.latest_measurement_id

    def keep_if_newest(self, measurement: "Measurement") -> bool:
        """Keep `measurement` as the newest (in memory), and add it to spark_points, unless the
        kept one is newer: a late report, evaluated before the kept one, does not replace it
        (False: the caller reads the gate's spark_points again)."""
        if self.latest_measurement_id is not None and measurement.newness < (
            self.latest_evaluated_at,
            self.latest_measurement_id,
        ):
            return False
        self.latest_measurement_id = measurement.pk
        self.latest_evaluated_at, self.latest_value = measurement.evaluated_at, measurement.value
        self.latest_reason, self.latest_evidence = measurement.reason, measurement.evidence_id or ""
        self.spark_points = [*self.spark_points, spark_point(measurement)][-SPARK_POINTS:]
        return True

    def evidence_status(self, now) -> tuple[str, str]:
        """(status, reason) as the gate's evidence alone says at `now`: stale evidence is unknown
        (current_status() before any waiver)."""
        if self.last_measured_at is None:
            return GateStatus.PENDING, "never measured"
        if self.state == GateStatus.UNKNOWN:
            return self.state, self.state_reason
        if self.last_evidence_at is None or self.last_evidence_at < now - self.max_age:
            # Failing polls do not keep a gate fresh: only a reading with a value does.
            return GateStatus.UNKNOWN, "stale: no fresh evidence within max_age"
        return self.state, self.state_reason

    def current_status(self, now=None) -> tuple[str, str]:
        """(status, reason) as of `now`: stale evidence is unknown; a waiver covers non-passing."""
        now = now or timezone.now()
        status, reason = self.evidence_status(now)
        if status == GateStatus.PASSING:
            return status, reason
        waiver = self.waiver_at(now)  # expiry counts at once, even a moment after a page's join
        if waiver is not None:
            expires = waiver.expires_at
            return GateStatus.WAIVED, f"waived until {expires:%Y-%m-%d %H:%M} UTC: {waiver.reason}"
        return status, reason

    def waiver_warning(self, now, target_t0=None) -> str:
        """Why someone relying on this gate's active waiver should look twice: it ends before
        T-0, or within 48 hours. Empty otherwise."""
        if self.current_status(now)[0] != GateStatus.WAIVED:
            return ""
        expires = self.waiver_at(now).expires_at
        if expires < (target_t0 or self.launch.target_t0):
            return f"its waiver ends {expires:%Y-%m-%d %H:%M} UTC, before T-0"
        if expires <= now + timedelta(hours=48):
            return f"its waiver ends within 48 hours ({expires:%Y-%m-%d %H:%M} UTC)"
        return ""

    def waiver_at(self, now) -> "Waiver | None":
        """The waiver covering this gate at `now`: the kept covering waiver (joined by
        with_active_waiver(), or one query) unless it has expired."""
        waiver = self.covering_waiver
        return waiver if waiver is not None and waiver.expires_at > now else None

    # The active waiver as pages, packets and exports show it: as of for_dashboard()'s `now`
    # (or now, on a gate loaded otherwise).

    @property
    def waiver_id(self) -> int | None:
        waiver = self._shown_waiver()
        return waiver.pk if waiver else None

    @property
    def waiver_expires_at(self):
        waiver = self._shown_waiver()
        return waiver.expires_at if waiver else None

    @property
    def waiver_reason(self) -> str:
        waiver = self._shown_waiver()
        return waiver.reason if waiver else ""

    def _shown_waiver(self) -> "Waiver | None":
        return self.waiver_at(getattr(self, "waiver_shown_at", None) or timezone.now())


def shown_gate(launch_id: int, key: str, now) -> Gate | None:
    """The launch's active gate `key` as its page shows it (for_dashboard(now): the waiver
    covering it at `now`; with its Prometheus source), or None. One query, built once per
    process (portal.prepared): the gate page and the API's gate views ask it on every request."""
    return _SHOWN_GATE.first(launch_id=launch_id, key=key, now=now)


_SHOWN_GATE = PreparedQuery(
    lambda launch_id, key, now: (
        Gate.objects.filter(launch_id=launch_id, key=key).for_dashboard(now)
        .select_related("prometheus")
    ),
    launch_id=int,
    key=str,
    now=datetime,
)  # fmt: skip


WAIVERS_SHOWN = 20  # a gate's newest waivers on its page


def shown_waivers(gate) -> list["Waiver"]:
    """The gate's WAIVERS_SHOWN newest waivers, each with `gate` as its gate. One query, built
    once per process (portal.prepared): a gate's page asks it."""
    waivers = _SHOWN_WAIVERS(gate_id=gate.pk)
    for waiver in waivers:
        waiver.gate = gate
    return waivers


_SHOWN_WAIVERS = PreparedQuery(
    lambda gate_id: Waiver.objects.filter(gate_id=gate_id)[:WAIVERS_SHOWN], gate_id=int
)


# What "the newest measurement" means, everywhere (Measurement.newness is its key).
NEWEST_FIRST = ("-evaluated_at", "-id")


class Measurement(models.Model):
    """One evaluation of a gate: a fact, never updated, never deleted."""

    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="measurements")
    status = models.CharField(max_length=20, choices=GateStatus.choices)
    value = ExactDecimalField(max_digits=30, decimal_places=6, null=True, blank=True)
    reason = models.TextField(blank=True)
    source_detail = models.JSONField(default=dict, blank=True)
    evidence = models.ForeignKey(
        "Evidence", null=True, blank=True, on_delete=models.PROTECT, related_name="measurements"
    )
    evaluated_at = models.DateTimeField(default=timezone.now, db_index=True)
    duration_ms = models.PositiveIntegerField(default=0)
    slot = models.DateTimeField(
        null=True, blank=True, help_text="The due time a polled evaluation was claimed for."
    )

    class Meta:
        ordering = list(NEWEST_FIRST)
        indexes = [models.Index(fields=["gate", "-evaluated_at"], name="measurement_gate_newest")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=GateStatus.values), name="measurement_status_valid"
            ),
            # A redelivered task finds its slot taken: one measurement per claimed slot.
            models.UniqueConstraint(fields=["gate", "slot"], name="measurement_one_per_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.gate_id} {self.status} {self.value}"

    @property
    def newness(self) -> tuple:
        """The key of NEWEST_FIRST: of two measurements, the greater is the newer."""
        return (self.evaluated_at, self.pk)


class Evidence(models.Model):
    """A raw report or response, stored once by its SHA-256."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=255, blank=True, help_text="The first upload's file name.")
    path = models.CharField(max_length=300, help_text="Relative to EVIDENCE_ROOT.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "evidence"

    def __str__(self) -> str:
        return f"{self.sha256[:12]} {self.name}"


class StatusChange(models.Model):
    """A change of a gate's (guarded) state, so history is cheap to read."""

    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=GateStatus.choices)
    to_status = models.CharField(max_length=20, choices=GateStatus.choices)
    reason = models.TextField(blank=True)
    at = models.DateTimeField()
    measurement = models.ForeignKey(Measurement, null=True, on_delete=models.PROTECT)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.gate_id}: {self.from_status} -> {self.to_status}"


class WaiverQuerySet(models.QuerySet):
    def covering(self):
        """Approved, not revoked (nor refused, which excludes approved), the longest first: the
        first of a gate's covers it until it expires (Gate.covering_waiver keeps it)."""
        return self.filter(granted_at__isnull=False, revoked_at__isnull=True).order_by(
            "-expires_at", "-id"
        )

    def active(self, now):
        """Waivers that count at `now`: approved, not revoked and not yet expired."""
        return self.covering().filter(expires_at__gt=now)

    def pending(self):
        """Requests waiting for a second person: neither approved, refused nor withdrawn."""
        return self.filter(
            granted_at__isnull=True, refused_at__isnull=True, revoked_at__isnull=True
        )


class WaiverState(models.TextChoices):
    PENDING = "pending", "Pending approval"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    REFUSED = "refused", "Refused"
    REVOKED = "revoked", "Revoked"


class Waiver(models.Model):
    """Leave for a gate not to pass until `expires_at`.

    A blocking gate's waiver takes two people: one requests it, another approves it (`granted_*`);
    until then it is pending and counts for nothing. A non-blocking gate's is granted by its
    requester at once. It may be refused, and revoked (withdrawn) at any time, with a reason.
    """

    gate = models.ForeignKey(Gate, on_delete=models.PROTECT, related_name="waivers")
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=200, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    granted_by_name = models.CharField(max_length=200, blank=True)
    granted_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    refused_at = models.DateTimeField(null=True, blank=True)
    refused_by_name = models.CharField(max_length=200, blank=True)
    refusal_reason = models.TextField(blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by_name = models.CharField(max_length=200, blank=True)
    revoke_reason = models.TextField(blank=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True)

    objects = WaiverQuerySet.as_manager()

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("requested_at")),
                name="waiver_expires_after_request",
            ),
            models.CheckConstraint(
                condition=models.Q(granted_at__isnull=True) | models.Q(refused_at__isnull=True),
                name="waiver_granted_or_refused",
            ),
        ]

    def __str__(self) -> str:
        return f"waiver of {self.gate_id} until {self.expires_at:%Y-%m-%d}"

    def state(self, now) -> str:
        if self.revoked_at is not None:
            return WaiverState.REVOKED
        if self.refused_at is not None:
            return WaiverState.REFUSED
        if self.granted_at is None:
            return WaiverState.PENDING
        return WaiverState.ACTIVE if self.expires_at > now else WaiverState.EXPIRED

    def involves(self, user) -> bool:
        """Whether `user` requested or approved it (and so produced the gate's evidence)."""
        return user.pk is not None and user.pk in (self.requested_by_id, self.granted_by_id)


def format_decimal(value: Decimal | None) -> str:
    """99.900000 -> '99.9', 85.000000 -> '85'; never scientific notation."""
    if value is None:
        return ""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text
