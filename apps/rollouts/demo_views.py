"""The demo's launch day controls (/launches/<slug>/demo/launch-day/, DEBUG and the demo metrics
source only): thin doors onto apps/rollouts/demo.py and apps/rollouts/services.py. A launch admin
moves the demo's T-0 to now, arms or disarms a breach, and starts a run."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from apps.rollouts.demo import (
    DemoRefused,
    breach_armed_since,
    check_demo_control,
    rehearse_launch_day,
    set_breach,
)
from apps.rollouts.services import RolloutRefused, start_refusal, start_run
from portal.launch_access import get_launch_for_user

ACTIONS = ("rehearse", "breach-on", "breach-off", "start")


@login_required
@require_http_methods(["GET", "POST"])
def demo_launch_day(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    try:
        check_demo_control(launch=launch, actor=request.user)
    except DemoRefused as refused:
        raise (Http404 if refused.status == 404 else PermissionDenied)(refused.reason) from None
    if request.method == "POST":
        return _act(request, launch, request.POST.get("action", ""))
    now = timezone.now()
    context = {
        "launch": launch, "now": now, "breach_since": breach_armed_since(launch.slug),
        "decision": launch.current_decision(), "start_refusal": start_refusal(launch, now),
        "run": launch.rollout_runs.first(),
    }  # fmt: skip
    return render(request, "launches/demo_launch_day.html", context)


def _act(request: HttpRequest, launch, action: str) -> HttpResponse:
    if action not in ACTIONS:
        messages.error(request, f"Nothing done: unknown action {action[:40]!r}.")
        return redirect("launches:demo-launch-day", slug=launch.slug)
    user = request.user
    try:
        if action == "rehearse":
            rehearse_launch_day(launch=launch, actor=user)
            messages.success(request, f"T-0 is now {launch.target_t0:%Y-%m-%d %H:%M} UTC.")
        elif action == "start":
            run = start_run(launch=launch, actor=user)
            messages.success(request, f"Rollout run {run.pk} started.")
        else:
            on = action == "breach-on"
            set_breach(launch=launch, actor=user, on=on)
            said = "The next stage breaches the error-rate trigger." if on else "Breach off."
            messages.success(request, said)
    except RolloutRefused as refused:
        messages.error(request, f"Not started: {refused.reason}.")
    return redirect("launches:demo-launch-day", slug=launch.slug)
