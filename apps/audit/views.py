from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.audit.models import AuditEvent
from apps.launches.views import get_launch_for_user

PAGE_SIZE = 50


@login_required
@require_GET
def audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    events = AuditEvent.objects.filter(launch_slug=launch.slug).order_by("-sequence")
    filters = {k: request.GET.get(k, "").strip() for k in ("actor", "action", "object", "since",
                                                           "until")}  # fmt: skip
    if filters["actor"]:
        events = events.filter(actor_name__icontains=filters["actor"])
    if filters["action"]:
        events = events.filter(action__startswith=filters["action"])
    if filters["object"]:
        events = events.filter(object_key__icontains=filters["object"])
    for name, lookup in (("since", "at__gte"), ("until", "at__lt")):
        moment = _moment(filters[name])
        if moment:
            events = events.filter(**{lookup: moment})
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    actions = (AuditEvent.objects.filter(launch_slug=launch.slug).order_by("action")
               .values_list("action", flat=True).distinct())  # fmt: skip
    query = request.GET.copy()
    query.pop("page", None)
    context = {"launch": launch, "page": page, "filters": filters, "actions": actions,
               "query": query.urlencode()}  # fmt: skip
    return render(request, "audit/log.html", context)


def _moment(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
