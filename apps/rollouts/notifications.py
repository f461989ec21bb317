"""The email of a rollback: to the launch's program managers, after commit, outside any
transaction (plain text, through Django's mail backend)."""

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse

from apps.rollouts.models import RolloutRun
from apps.signoffs.models import Assignment, Duty
from portal.links import portal_url


def send_rolled_back(run_id: int) -> None:
    """Tell the current program managers that a run rolled back (or failed), and why."""
    run = RolloutRun.objects.select_related("launch").get(pk=run_id)
    launch = run.launch
    managers = Assignment.objects.current().filter(launch=launch, duty=Duty.PROGRAM_MANAGER)
    to = sorted({a.user.email for a in managers.select_related("user") if a.user.email})
    if not to:
        return
    stage = run.current_stage()
    where = (
        f"at stage {stage.name} ({stage.traffic}% of the traffic)" if stage else "before any stage"
    )
    link = portal_url(reverse("launches:overview", kwargs={"slug": launch.slug}))
    body = (
        f"The rollout of {launch.name} {launch.version} (run {run.pk}) is {run.status} {where}.\n\n"
        f"Why: {run.reason}\n"
        f"When: {run.finished_at:%Y-%m-%d %H:%M:%S} UTC\n\n"
        f"The deploy tool's rollback hook now answers 200.\n{link}\n"
    )
    subject = f"[{launch.slug}] Rollout {run.status}: {run.reason}"[:200]
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, to, fail_silently=True)
