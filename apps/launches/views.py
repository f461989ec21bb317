from collections import Counter

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.permissions import (
    attestable_categories,
    can_edit_timeline,
    waivable_categories,
)
from apps.gates.models import Gate, GateStatus
from apps.launches.forms import ActivityForm
from apps.launches.models import Activity, ActivityStatus, Launch
from apps.launches.services import update_activity
from apps.launches.timeline import gantt, is_slipped
from apps.signoffs.models import Assignment
from apps.signoffs.readiness import readiness


def get_launch_for_user(request: HttpRequest, slug: str) -> Launch:
    """The one door to a launch: load it and check the user may see it (404 otherwise).

    Staff see every launch; anyone else only the launches they hold a current assignment on.
    """
    launches = Launch.objects.all()
    if not request.user.is_staff:
        launches = launches.filter(
            pk__in=Assignment.objects.current().filter(user=request.user).values("launch")
        )
    return get_object_or_404(launches, slug=slug)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@login_required
@require_GET
def launch_list(request: HttpRequest) -> HttpResponse:
    launches = Launch.objects.with_counts()
    if not request.user.is_staff:
        mine = Assignment.objects.current().filter(user=request.user).values("launch")
        launches = launches.filter(pk__in=mine)
    return render(request, "launches/list.html", {"launches": launches, "now": timezone.now()})


@login_required
@require_GET
def launch_overview(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    now = timezone.now()
    gates = list(Gate.objects.filter(launch=launch).for_dashboard(now).select_related("prometheus"))
    for gate in gates:
        gate.status, gate.status_reason = gate.current_status(now)
    counts = Counter(gate.status for gate in gates)
    context = {
        "launch": launch,
        "now": now,
        "phases": launch.phases.prefetch_related("activities"),
        "gates": gates,
        "counts": [(status, counts.get(status, 0)) for status in GateStatus.values],
        "blockers": [g for g in gates if g.blocking and g.status != GateStatus.PASSING],
        "roles": launch.roles.filter(retired_at__isnull=True),
        "sequence": launch.sequence.all(),
        "attestable": attestable_categories(request.user, launch),
        "waivable": waivable_categories(request.user, launch),
        "readiness": readiness(launch, now),
    }
    return render(request, "launches/overview.html", context)


@login_required
@require_GET
def timeline(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    now = timezone.now()
    phases = list(launch.phases.prefetch_related("activities"))
    current = (now.date() - launch.start_date).days / 7
    rows = [(phase, activity, is_slipped(activity, current))
            for phase in phases for activity in phase.activities.all()]  # fmt: skip
    context = {
        "launch": launch, "now": now, "gantt": gantt(launch, phases, now.date()), "rows": rows,
        "sequence": launch.sequence.all(), "may_edit": can_edit_timeline(request.user, launch),
        "statuses": ActivityStatus.choices,
    }  # fmt: skip
    return render(request, "launches/timeline.html", context)


@login_required
@require_POST
def activity_update(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    if not can_edit_timeline(request.user, launch):
        raise PermissionDenied("only the program manager edits the timeline")
    activity = get_object_or_404(Activity.objects.select_related("phase__launch"), pk=pk,
                                 phase__launch=launch)  # fmt: skip
    form = ActivityForm(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors.as_text(), status=400)
    update_activity(activity=activity, user=request.user, **form.cleaned_data)
    if request.headers.get("HX-Request"):
        now = timezone.now()
        current = (now.date() - launch.start_date).days / 7
        context = {"launch": launch, "phase": activity.phase, "activity": activity,
                   "slipped": is_slipped(activity, current), "may_edit": True,
                   "statuses": ActivityStatus.choices}  # fmt: skip
        return render(request, "launches/_activity_row.html", context)
    return redirect("launches:timeline", slug=slug)
