"""Writes to launches' own rows: an activity's status and owner (the timeline's edit, the API)."""

from django.db import transaction
from django.utils import timezone

from apps.audit.services import record
from apps.gates import rows
from apps.launches.models import Activity, ActivityStatus


def update_activity(*, activity: Activity, user, status: str, owner: str) -> Activity:
    """A program manager changes an activity's status or owner; audited."""
    activity.phase.launch.refuse_if_closed()  # a closed launch is read-only
    if status not in ActivityStatus.values:
        raise ValueError(f"{status!r} is not an activity status")
    before = {"status": activity.status, "owner": activity.owner}
    with transaction.atomic():
        activity.status, activity.owner = status, owner.strip()[:200]
        if status == ActivityStatus.DONE and before["status"] != ActivityStatus.DONE:
            activity.completed_at = timezone.now()
        elif status != ActivityStatus.DONE:
            activity.completed_at = None
        activity.save(update_fields=["status", "owner", "completed_at"])
        rows.bump(activity.phase.launch_id, (rows.PLAN,))  # the overview's and timeline's plan
        record(
            actor=user, action="activity.updated", launch_slug=activity.phase.launch.slug,
            obj_type="activity", obj_key=f"{activity.phase.code}: {activity.name}",
            data={"before": before, "after": {"status": status, "owner": activity.owner}},
        )  # fmt: skip
    return activity
