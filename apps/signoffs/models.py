from django.conf import settings
from django.db import models
from django.utils import timezone

from apps.launches.models import Launch


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


class Duty(models.TextChoices):
    """What a person does on a launch, besides (or instead of) holding a signing role."""

    SIGNER = "signer", "Signer (holds a role)"
    PROGRAM_MANAGER = "program_manager", "Program manager"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Launch admin"


class AssignmentQuerySet(models.QuerySet):
    def current(self, now=None):
        """Assignments in force at `now` (a delegate's only within its window)."""
        now = now or timezone.now()
        return self.filter(
            models.Q(valid_from__isnull=True) | models.Q(valid_from__lte=now),
            models.Q(valid_until__isnull=True) | models.Q(valid_until__gt=now),
            revoked_at__isnull=True,
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
