"""Who may manage a launch's webhooks: its administrators (staff and launch admins)."""

from apps.accounts.permissions import administers
from apps.launches.models import Launch


def can_manage_webhooks(user, launch: Launch) -> bool:
    """Staff or a current launch admin of `launch` (one query at most)."""
    return administers(user, launch)
