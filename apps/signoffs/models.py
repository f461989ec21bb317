from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.launches.models import Launch
from portal.prepared import PreparedQuery


class Role(models.Model):
    """A signing role of a launch and the gate categories its signature covers."""

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="roles")
    key = models.SlugField(max_length=80)
    name = models.CharField(max_length=200)
    scope = models.CharField(max_length=300)
    required = models.BooleanField(default=True)
    categories = models.JSONField(default=list, blank=True)
    order = models.PositiveIntegerField(default=0)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["launch", "order", "key"]
        constraints = [
            models.UniqueConstraint(fields=["launch", "key"], name="role_key_unique"),
        ]

    def __str__(self) -> str:
        return self.name


def current_roles(launch) -> list[Role]:
    """The launch's roles not retired, in its order (order, key: Role's default order would
    join the launch to sort by it), each with `launch` as its launch. One query, built once per
    process (portal.prepared): a gate's page asks it."""
    roles = _CURRENT_ROLES(launch_id=launch.pk)
    for role in roles:
        role.launch = launch
    return roles


_CURRENT_ROLES = PreparedQuery(
    lambda launch_id: Role.objects.filter(launch_id=launch_id, retired_at__isnull=True)
    .order_by("order", "key"),
    launch_id=int,
)  # fmt: skip


class Duty(models.TextChoices):
    """What a person does on a launch, besides (or instead of) holding a signing role."""

    SIGNER = "signer", "Signer (holds a role)"
    PROGRAM_MANAGER = "program_manager", "Program manager"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Launch admin"
    # Checks and attests manual gates (a QA lead, a security reviewer) and signs nothing, so the
    # evidence and the approval over it come from different people.
    ATTESTER = "attester", "Attester"


class AssignmentQuerySet(models.QuerySet):
    def current(self, now=None):
        """Assignments in force at `now` (a delegate's only within its window)."""
        now = now or timezone.now()
        return self.filter(
            models.Q(valid_from__isnull=True) | models.Q(valid_from__lte=now),
            models.Q(valid_until__isnull=True) | models.Q(valid_until__gt=now),
            revoked_at__isnull=True,
        )

    def for_people_page(self):
        """Every assignment, in force first, with the people and the role (one query)."""
        return self.select_related("user", "role", "delegate_of").order_by(
            models.F("revoked_at").desc(nulls_first=True), "duty", "role__order", "-created_at"
        )


class Assignment(models.Model):
    """A person's duty on a launch: a role held (perhaps as a delegate), or PM/auditor/admin."""

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="assignments")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    duty = models.CharField(max_length=20, choices=Duty.choices)
    role = models.ForeignKey(
        Role, null=True, blank=True, on_delete=models.PROTECT, related_name="assignments"
    )
    delegate_of = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
        related_name="delegations",
    )  # fmt: skip
    reason = models.TextField(blank=True)
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = AssignmentQuerySet.as_manager()

    class Meta:
        ordering = ["launch", "duty", "role__order"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(duty="signer", role__isnull=False)
                | (~models.Q(duty="signer") & models.Q(role__isnull=True)),
                name="assignment_role_iff_signer",
            ),
            models.CheckConstraint(
                condition=models.Q(delegate_of__isnull=True)
                | (models.Q(valid_until__isnull=False) & ~models.Q(reason="")),
                name="assignment_delegate_has_window_and_reason",
            ),
        ]

    def __str__(self) -> str:
        what = self.role.name if self.role_id else self.get_duty_display()
        return f"{self.user} as {what} on {self.launch.slug}"

    def state(self, now) -> str:
        """'ended' (revoked), 'scheduled' (window not begun), 'expired' (window over), 'current'."""
        if self.revoked_at is not None:
            return "ended"
        if self.valid_from is not None and self.valid_from > now:
            return "scheduled"
        if self.valid_until is not None and self.valid_until <= now:
            return "expired"
        return "current"

    def holds_role(self, now) -> bool:
        """A current holder of a role in their own right (whom a delegate may stand in for)."""
        return self.duty == Duty.SIGNER and not self.delegate_of_id and self.state(now) == "current"


class Decision(models.TextChoices):
    APPROVE = "approve", "Approve"
    APPROVE_WITH_CONDITIONS = "approve_with_conditions", "Approve with conditions"
    REJECT = "reject", "Reject"


APPROVALS = (Decision.APPROVE, Decision.APPROVE_WITH_CONDITIONS)


class SignOffQuerySet(models.QuerySet):
    def active(self):
        """The current sign-off of each role: not superseded by a newer one."""
        return self.filter(superseded_at__isnull=True)

    def briefly(self):
        """Without the signed snapshot (every gate's state at signing: most of a row's bytes),
        for pages that say who signed what, not over which evidence."""
        return self.defer("snapshot")

    def valid_approvals(self):
        return self.active().filter(decision__in=APPROVALS, invalidated_at__isnull=True)


class SignOff(models.Model):
    """A signature: who, as which role, decided what, over exactly which evidence (digest).

    Never edited: a newer sign-off supersedes it, or it is invalidated (time, reason, gate).
    """

    launch = models.ForeignKey(Launch, on_delete=models.PROTECT, related_name="signoffs")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="signoffs")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="signoffs"
    )
    printed_name = models.CharField(max_length=200)
    on_behalf_of = models.CharField(max_length=200, blank=True)
    decision = models.CharField(max_length=30, choices=Decision.choices)
    comment = models.TextField(blank=True)
    meaning = models.TextField()
    digest = models.CharField(max_length=64)
    snapshot = models.JSONField()
    signed_at = models.DateTimeField()
    signer_email = models.EmailField(max_length=254, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    reauth_method = models.CharField(
        max_length=60, blank=True,
        help_text="How the signer confirmed it was them: password, totp; after single sign-on, "
        "sso+password or sso+totp.",
    )  # fmt: skip
    superseded_at = models.DateTimeField(null=True, blank=True)
    invalidated_at = models.DateTimeField(null=True, blank=True)
    invalidated_reason = models.TextField(blank=True)
    invalidated_gate = models.CharField(max_length=80, blank=True)

    objects = SignOffQuerySet.as_manager()

    class Meta:
        verbose_name = "sign-off"
        ordering = ["-signed_at", "-id"]
        constraints = [
            # One active sign-off per role, enforced by the database under concurrent submits.
            models.UniqueConstraint(
                fields=["launch", "role"],
                condition=models.Q(superseded_at__isnull=True),
                name="signoff_one_active_per_role",
            ),
            models.CheckConstraint(
                condition=models.Q(decision__in=Decision.values), name="signoff_decision_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} {self.decision} by {self.printed_name}"

    @property
    def is_approval(self) -> bool:
        return self.decision in APPROVALS

    @property
    def is_valid(self) -> bool:
        return self.superseded_at is None and self.invalidated_at is None

    @property
    def state(self) -> str:
        """The signature's standing in words, as the matrix and the inbox show it."""
        if self.invalidated_at is not None:
            return "invalidated"
        return {
            Decision.APPROVE: "approved",
            Decision.APPROVE_WITH_CONDITIONS: "approved with conditions",
            Decision.REJECT: "rejected",
        }[Decision(self.decision)]


class Condition(models.Model):
    """A condition of an approval: unmet at its due time, it lapses the approval."""

    signoff = models.ForeignKey(SignOff, on_delete=models.PROTECT, related_name="conditions")
    text = models.TextField()
    owner = models.CharField(max_length=200)
    due_at = models.DateTimeField()
    met_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["due_at", "id"]

    def __str__(self) -> str:
        return self.text


class GoNoGo(models.TextChoices):
    GO = "go", "Go"
    NO_GO = "no-go", "No-Go"


class LaunchDecisionQuerySet(models.QuerySet):
    def current(self):
        """The decision in force: the one no later decision supersedes (one per launch)."""
        return self.filter(superseded_by__isnull=True)


class LaunchDecision(models.Model):
    """The Go/No-Go decision, recorded by the holder of the launch's decision role beside the
    portal's recommendation. Never edited: a newer decision supersedes it (both are kept)."""

    launch = models.ForeignKey(Launch, on_delete=models.PROTECT, related_name="decisions")
    decision = models.CharField(max_length=10, choices=GoNoGo.choices)
    recommendation = models.CharField(max_length=10, choices=GoNoGo.choices)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by_name = models.CharField(max_length=200)
    role = models.CharField(max_length=80, blank=True, help_text="The decision role's key.")
    on_behalf_of = models.CharField(max_length=200, blank=True)
    attendees = models.TextField()
    notes = models.TextField(blank=True)
    blockers = models.JSONField(default=list)
    override = models.BooleanField(
        default=False, help_text="Go, recorded while the portal recommended NO-GO."
    )
    override_reason = models.TextField(blank=True)
    # One-to-one: a decision is superseded once, so the decisions of a launch form one chain.
    supersedes = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    decided_at = models.DateTimeField()

    objects = LaunchDecisionQuerySet.as_manager()

    class Meta:
        verbose_name = "Go/No-Go decision"
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(override=False)
                | (models.Q(decision="go") & ~models.Q(override_reason="")),
                name="decision_override_is_a_reasoned_go",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.decision} on {self.decided_at:%Y-%m-%d}"


class DecisionMeeting(models.Model):
    """The Go/No-Go meeting record the program manager prepares; it prefills the decider's form."""

    launch = models.OneToOneField(Launch, on_delete=models.CASCADE, related_name="meeting")
    attendees = models.TextField(blank=True)
    notes = models.TextField(blank=True)
    prepared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    prepared_by_name = models.CharField(max_length=200)
    prepared_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Go/No-Go meeting of {self.launch.slug}"


class SignatureRequestQuerySet(models.QuerySet):
    def open(self):
        """Requests not yet answered by a sign-off, nor cancelled."""
        return self.filter(fulfilled_at__isnull=True, cancelled_at__isnull=True)


class SignatureRequest(models.Model):
    """A program manager's request that a role sign by `due_at`, with a message.

    Fulfilled by the role's next sign-off (approval or rejection); reminders and escalations are
    logged in RequestNotice so that none is sent twice.
    """

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="signature_requests")
    role = models.ForeignKey(Role, on_delete=models.PROTECT, related_name="requests")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_name = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    due_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    fulfilled_by = models.ForeignKey(
        "SignOff", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    cancelled_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)

    objects = SignatureRequestQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(due_at__gt=models.F("created_at")),
                name="signature_request_due_after_creation",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} by {self.due_at:%Y-%m-%d}"


class NoticeKind(models.TextChoices):
    REQUEST = "request", "Request"
    REMINDER = "reminder", "Reminder before the due date"
    OVERDUE = "overdue", "Overdue reminder"
    ESCALATION = "escalation", "Escalation"


class RequestNotice(models.Model):
    """One email about a request to one person; reminders are at most one a day per person and
    request (the database refuses a second)."""

    request = models.ForeignKey(SignatureRequest, on_delete=models.CASCADE, related_name="notices")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=12, choices=NoticeKind.choices)
    sent_at = models.DateTimeField()
    sent_on = models.DateField()

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["request", "user", "sent_on"],
                condition=models.Q(kind__in=["reminder", "overdue"]),
                name="request_notice_one_reminder_a_day",
            ),
            models.UniqueConstraint(
                fields=["request", "user", "kind"],
                condition=models.Q(kind__in=["request", "escalation"]),
                name="request_notice_request_and_escalation_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.user_id} on {self.sent_on}"


class NotificationSetting(models.Model):
    """A person's choice for a launch: reminders off (requests and invalidations still arrive)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_settings"
    )
    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="+")
    reminders_off = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "launch"], name="notification_setting_unique"),
        ]

    def __str__(self) -> str:
        return (
            f"{self.user_id} on {self.launch_id}: reminders {'off' if self.reminders_off else 'on'}"
        )
