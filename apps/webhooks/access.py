"""Who may manage a launch's webhooks: its launch admins (and superusers)."""

from django.utils import timezone

from apps.launches.models import Launch
from apps.signoffs.models import Assignment, Duty


def can_manage_webhooks(user, launch: Launch) -> bool:
    """A current launch admin of `launch`, or a superuser (one query at most)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    current = Assignment.objects.current(timezone.now())
    return current.filter(user=user, launch=launch, duty=Duty.ADMIN).exists()
