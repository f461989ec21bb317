"""Closing a launch (8.6): a launch admin closes it once post-launch validation is done and the
user-acceptance and lessons-learned attestations stand (apps/rollouts/closure.py says when).
Closing issues the metrics summary report (a signed PDF) and makes the launch read-only: every
write goes through Launch.refuse_if_closed().

A validation that failed or was inconclusive (or a launch with nothing to validate) may still be
closed, with a reason, which the report and the audit event carry.
"""

from django.db import transaction
from django.utils import timezone

from apps.audit.services import record
from apps.launches.models import Launch, LaunchStatus
from apps.reports.packets.summary_report import KIND, issue_summary
from apps.rollouts.closure import ClosureRefused, closure_refusal
from apps.rollouts.postlaunch import post_launch_summary
from apps.signoffs.permissions import administers


def close_launch(*, launch: Launch, actor, reason: str = "", now=None) -> Launch:
    """Close the launch: issue its metrics summary report and make it read-only; audited
    (`launch.closed`). Refused (ClosureRefused) to anyone but a launch admin, before post-launch
    validation is done, without a reason when it did not pass, or without the attestations;
    a closed launch raises LaunchClosed. The report renders (seconds) outside the transaction."""
    now = now or timezone.now()
    if not administers(actor, launch):
        raise ClosureRefused(403, "only a launch admin closes the launch")
    launch.refuse_if_closed()
    reason = reason.strip()
    if refused := closure_refusal(launch, reason=reason, now=now):
        raise refused
    name = _name(actor)
    issued = issue_summary(launch, now=now, closed_by=name, reason=reason)
    with transaction.atomic():
        launch = Launch.objects.select_for_update().get(pk=launch.pk)
        launch.refuse_if_closed()  # two admins at once: the first one closes it
        launch.closed_at, launch.closed_by_name, launch.closure_reason = now, name, reason
        launch.summary_sha256, launch.summary_path = issued.sha256, issued.path
        launch.summary_size, launch.status = issued.size, LaunchStatus.CLOSED
        launch.save(update_fields=[
            "closed_at", "closed_by_name", "closure_reason", "status", "summary_sha256",
            "summary_path", "summary_size", "updated_at",
        ])  # fmt: skip
        state = post_launch_summary(launch, now).state
        record(actor=actor, action="launch.closed", launch_slug=launch.slug, obj_type="launch",
               obj_key=launch.slug, data={"reason": reason, "post_launch": state,
               "report": {"kind": KIND, "sha256": issued.sha256, "size": issued.size}})  # fmt: skip
    return launch


def _name(actor) -> str:
    if isinstance(actor, str):
        return actor
    return actor.get_full_name() or actor.get_username()
