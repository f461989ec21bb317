from datetime import datetime

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ImproperlyConfigured
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from apps.audit.models import PORTAL_CHAIN, AuditEvent, Checkpoint
from portal import signing
from portal.launch_access import get_launch_for_user

PAGE_SIZE = 50
CHECKPOINTS_PER_PAGE = 100


@login_required
@require_GET
def audit_log(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    events = AuditEvent.objects.for_launch(launch.slug).reverse()
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


@require_GET
@cache_control(public=True, max_age=60)
def checkpoints(request: HttpRequest) -> JsonResponse:
    """The signed checkpoints of one audit chain (`?chain=` a launch's slug, else the portal's),
    newest first, with the certificate that verifies them. Public: no login, and no event data."""
    chain = request.GET.get("chain", "").strip()
    rows = Checkpoint.objects.published(chain)
    page = Paginator(rows, CHECKPOINTS_PER_PAGE).get_page(request.GET.get("page"))
    following = None
    if page.has_next():
        query = {**({"chain": chain} if chain else {}), "page": page.next_page_number()}
        following = f"{request.path}?{urlencode(query)}"
    return JsonResponse({
        "format": "launch-portal-checkpoints/1",
        "chain": chain or PORTAL_CHAIN,
        "signed": "a detached JWS (RFC 7515) over the canonical JSON (sorted keys, no spaces) of "
                  "chain, sequence, head and at",
        "certificate": _certificate(),
        "checkpoints": [checkpoint.as_dict() for checkpoint in page],
        "page": page.number,
        "pages": page.paginator.num_pages,
        "next": following,
    })  # fmt: skip


def _certificate() -> dict | None:
    try:
        found = signing.identity()
    except ImproperlyConfigured:
        return None
    return {"sha256": found.fingerprint, "pem": found.certificate_pem().decode()}
