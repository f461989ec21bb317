"""The post-launch page (/launches/<slug>/post-launch/): thin doors onto apps/rollouts/postlaunch.py
and apps/rollouts/closure.py. GET shows the validation and its comparison table (polled while it
runs); POST lets a launch admin start the validation."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from apps.rollouts.closure import closure_refusal
from apps.rollouts.postlaunch import ValidationRefused, post_launch_summary, start_validation
from apps.signoffs.permissions import administers
from portal.launch_access import get_launch_for_user


@login_required
@require_http_methods(["GET", "POST"])
def post_launch(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    if request.method == "POST":
        return _start(request, launch)
    summary = post_launch_summary(launch)
    context = {"launch": launch, "summary": summary}
    if request.headers.get("HX-Request"):
        return render(request, "rollouts/_post_launch.html", context)
    context["may_admin"] = administers(request.user, launch)
    if context["may_admin"] and not launch.is_closed:
        refused = closure_refusal(launch, reason="-")  # a reason is asked for in the form
        context["closure_refusal"] = refused.reason if refused else ""
    return render(request, "rollouts/post_launch.html", context)


def _start(request: HttpRequest, launch) -> HttpResponse:
    try:
        validation = start_validation(launch=launch, actor=request.user)
    except ValidationRefused as refused:
        if refused.status == 403:
            raise PermissionDenied(refused.reason) from None
        messages.error(request, f"Not started: {refused.reason}.")
        return redirect("launches:post-launch", slug=launch.slug)
    end = f"{validation.ends_at:%Y-%m-%d %H:%M} UTC"
    messages.success(request, f"Post-launch validation started; its window ends {end}.")
    return redirect("launches:post-launch", slug=launch.slug)
