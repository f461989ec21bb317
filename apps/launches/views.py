from collections import Counter

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.accounts.permissions import attestable_categories, waivable_categories
from apps.gates.models import Gate, GateStatus
from apps.launches.models import Launch
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
