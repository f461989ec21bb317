"""Who may take what out of a launch: exports are for its auditors and admins only."""

from django.utils import timezone

from apps.launches.models import Launch
from apps.signoffs.models import Assignment, Duty

EXPORTERS = (Duty.AUDITOR, Duty.ADMIN)


def can_export(user, launch: Launch) -> bool:
    """A current auditor or admin of the launch, or a superuser."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    current = Assignment.objects.current(timezone.now())
    return current.filter(user=user, launch=launch, duty__in=EXPORTERS).exists()
