"""The war room (/launches/<slug>/war-room/): thin doors onto apps/rollouts/warroom.py.

GET the page, or its live part (`live/`, polled every 5 s); POST `start/` or `roll-back/` as a
launch admin. Refusals come back as a message on the page; someone who may not act gets 403.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from apps.launches.models import Launch
from apps.rollouts.demo import DemoRefused, check_demo_control
from apps.rollouts.services import RolloutRefused
from apps.rollouts.warroom import roll_back_from_war_room, start_from_war_room, war_room
from apps.signoffs.permissions import administers
from portal.launch_access import get_launch_for_user


@login_required
@require_GET
def war_room_page(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug, deciding=True)
    context = {"launch": launch, "room": war_room(launch, request.user)}
    try:  # the demo's launch-day controls (DEBUG and the demo source, launch admins): linked
        check_demo_control(launch=launch, actor=request.user)
        context["demo_controls"] = True
    except DemoRefused:
        pass
    return render(request, "rollouts/war_room.html", context)


@never_cache
@login_required
@require_GET
def war_room_live(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug, deciding=True)
    return render(
        request,
        "rollouts/_war_room.html",
        {"launch": launch, "room": war_room(launch, request.user)},
    )


@login_required
@require_POST
def war_room_start(request: HttpRequest, slug: str) -> HttpResponse:
    launch = _launch_for_admin(request, slug)
    try:
        run = start_from_war_room(launch=launch, user=request.user)
    except RolloutRefused as refused:
        return _refused(request, launch, "Not started", refused)
    stage = run.current_stage()
    messages.success(request, f"Rollout run {run.pk} started: stage {stage.name} "
                              f"({stage.traffic}% of the traffic).")  # fmt: skip
    return redirect("launches:war-room", slug=launch.slug)


@login_required
@require_POST
def war_room_roll_back(request: HttpRequest, slug: str) -> HttpResponse:
    launch = _launch_for_admin(request, slug)
    try:
        run = roll_back_from_war_room(launch=launch, user=request.user,
                                      run_id=request.POST.get("run"),
                                      reason=request.POST.get("reason", ""))  # fmt: skip
    except RolloutRefused as refused:
        return _refused(request, launch, "Not rolled back", refused)
    messages.success(request, f"Rollout run {run.pk} is rolled back: the deploy tool is told so.")
    return redirect("launches:war-room", slug=launch.slug)


def _launch_for_admin(request: HttpRequest, slug: str) -> Launch:
    """The door's check (the services check again): 404 unseen, 403 for anyone but an admin."""
    launch = get_launch_for_user(request, slug)
    if not administers(request.user, launch):
        raise PermissionDenied("only the launch's admins start or roll back a rollout")
    return launch


def _refused(request: HttpRequest, launch: Launch, what: str, refused: RolloutRefused):
    if refused.status == 403 and not administers(request.user, launch):
        raise PermissionDenied(refused.reason)
    messages.error(request, f"{what}: {refused.reason}.")
    return redirect("launches:war-room", slug=launch.slug)
