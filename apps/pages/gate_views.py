"""The gate pages of a launch (/launches/<slug>/gates/...): the list, a gate's page, attesting,
waivers and evidence. Here, above the gates app, because they also ask the sign-off rules over a
gate (who may attest it, ask for or decide on its waiver: apps/signoffs)."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_GET, require_POST

from apps.gates import rows
from apps.gates.evidence import store_evidence
from apps.gates.forms import AttestationForm, WaiverDecisionForm, WaiverForm
from apps.gates.history import CHART_POINTS, chart, kept_points, recent_values, sparkline
from apps.gates.models import (
    Evidence,
    Gate,
    GateStatus,
    Source,
    Waiver,
    format_decimal,
    shown_gate,
    shown_waivers,
)
from apps.gates.services import attest, waiver_limit
from apps.signoffs.models import current_roles
from apps.signoffs.permissions import can_attest, can_waive, permissions_for
from apps.signoffs.waivers import (
    WaiverRefused,
    approve_waiver,
    refuse_waiver,
    request_waiver,
    revoke_waiver,
)
from portal import storage
from portal.csvsafe import csv_text
from portal.launch_access import get_launch_for_user


def get_gate_for_user(request: HttpRequest, slug: str, key: str) -> Gate:
    """The one door to a gate: its launch must be visible to the user (404 otherwise). The gate
    comes as its page shows it (for_dashboard: the waiver covering it now, its Prometheus)."""
    launch = get_launch_for_user(request, slug, deciding=True)
    gate = shown_gate(launch.pk, key, timezone.now())
    if gate is None:
        raise Http404("No Gate matches the given query.")
    gate.launch = launch  # the one just loaded and checked
    return gate


@login_required
def gate_attest(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    gate = get_gate_for_user(request, slug, key)
    if gate.source != Source.MANUAL or not can_attest(request.user, gate):
        raise PermissionDenied("you may not attest this gate")
    form = AttestationForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["evidence"]
        evidence = None
        if upload:
            evidence = store_evidence(
                data=upload.read(), name=upload.name, content_type=upload.content_type or ""
            )
        attest(gate=gate, user=request.user, comment=form.cleaned_data["comment"],
               evidence=evidence)  # fmt: skip
        messages.success(request, f"You attested “{gate.name}”.")
        return redirect("launches:overview", slug=slug)
    return render(request, "gates/attest.html", {"gate": gate, "form": form})


@login_required
def gate_waive(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    gate = get_gate_for_user(request, slug, key)
    if not can_waive(request.user, gate):
        raise PermissionDenied("only a holder of a role covering this gate may ask to waive it")
    form = WaiverForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            waiver = request_waiver(gate=gate, user=request.user, **form.cleaned_data)
        except WaiverRefused as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            until = f"{waiver.expires_at:%Y-%m-%d %H:%M} UTC"
            if waiver.granted_at:
                messages.success(request, f"“{gate.name}” is waived until {until}.")
            else:
                messages.success(request, f"Waiver of “{gate.name}” until {until} requested: "
                                          "it counts once another person approves it.")  # fmt: skip
            return redirect("launches:gate", slug=slug, key=key)
    elif request.method == "POST":
        status = 400
    limit, rule = waiver_limit(gate.launch, timezone.now())
    context = {"gate": gate, "form": form, "limit": limit, "rule": rule}
    return render(request, "gates/waive.html", context, status=status)


@login_required
@require_POST
def waiver_action(request: HttpRequest, slug: str, key: str, pk: int, action: str) -> HttpResponse:
    """Approve, refuse or revoke a waiver of the gate; the service decides who may."""
    if action not in ("approve", "refuse", "revoke"):
        raise Http404("no such waiver action")
    gate = get_gate_for_user(request, slug, key)
    waiver = get_object_or_404(Waiver, gate=gate, pk=pk)
    form = WaiverDecisionForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        if action == "approve":
            approve_waiver(waiver=waiver, user=request.user)
        elif action == "refuse":
            refuse_waiver(waiver=waiver, user=request.user, reason=reason)
        else:
            revoke_waiver(waiver=waiver, user=request.user, reason=reason)
    except WaiverRefused as exc:
        return _gate_page(request, gate, status=exc.status, error=exc.message)
    done = {"approve": "approved", "refuse": "refused", "revoke": "revoked"}[action]
    messages.success(request, f"The waiver of “{gate.name}” is {done}.")
    return redirect("launches:gate", slug=slug, key=key)


SORTS = {
    "name": lambda g: g.name.lower(),
    "category": lambda g: (g.category, g.order),
    "status": lambda g: (STATUS_ORDER.get(g.status, 9), g.order),
    "source": lambda g: (g.source, g.order),
    "measured": lambda g: g.last_measured_at.timestamp() if g.last_measured_at else 0,
}
STATUS_ORDER = {"failing": 0, "unknown": 1, "pending": 2, "waived": 3, "passing": 4}


FIRST_ROWS = 30  # the rows sent with the page; htmx asks for the rest as soon as it loads


@login_required
@require_GET
def gate_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The launch's gates. The page carries the first FIRST_ROWS rows and a row that htmx
    replaces at once with the rest (`?after=`), or a link to all of them (`?all=1`) without
    JavaScript; its live part (htmx, every 15 s) asks for every row."""
    launch = get_launch_for_user(request, slug)
    now = timezone.now()
    f = {k: request.GET.get(k, "") for k in ("category", "status", "blocking", "source", "sort")}
    if request.GET.get("format") == "csv":
        return _gates_csv(launch, _listed_gates(launch, f, now))

    def draw() -> tuple[dict, object]:
        loaded = _loaded_gates(launch, f, now)
        listed = _listed(loaded, f)
        kept = {"rows": _gate_rows(launch, listed, now), **rows.gate_index(listed, loaded, now),
                "form": _filters_form(launch, f)}  # fmt: skip
        return kept, rows.stale_at(loaded, now)

    def update(earlier: dict, gates: set) -> tuple[dict, object] | None:
        """The page kept under an earlier version with the rows of the gates read since drawn
        again from those gates alone; not when sorted by last measured (a reading moves it)."""
        if f["sort"] == "measured":
            return None
        loaded = _loaded_gates(launch, f, now, among=gates)

        def redraw(redrawn: list[Gate]) -> list[str]:
            return _gate_rows(launch, redrawn, now)

        return rows.updated_by_gate(earlier, gates, loaded, _listed(loaded, f), now, redraw,
                                    "rows")  # fmt: skip

    kept = rows.fragment(launch.pk, f"list/4;{urlencode(f)}", now, draw, update=update)
    drawn = kept["rows"]
    if request.headers.get("HX-Request"):
        after = request.GET.get("after", "")
        return HttpResponse(_rows_markup(drawn[int(after) if after.isdigit() else 0 :], after))
    live = urlencode({k: v for k, v in f.items() if v})
    first = drawn if request.GET.get("all") else drawn[:FIRST_ROWS]
    context = {
        "launch": launch, "now": now, "rows": _rows_markup(first), "form": kept["form"],
        "rest": len(drawn) - len(first), "after": len(first), "live": live,
    }  # fmt: skip
    return render(request, "gates/list.html", context)


def _filters_form(launch, f: dict) -> SafeString:
    """The page's filters as they stand (templates/gates/filters.html): drawn with its rows, as
    the categories they offer are the gates'."""
    context = {"filters": f, "categories": list(launch.gates.categories()),
               "statuses": GateStatus.values, "sources": Source.choices,
               "live": urlencode({k: v for k, v in f.items() if v})}  # fmt: skip
    return mark_safe(render_to_string("gates/filters.html", context))  # noqa: S308


def _rows_markup(drawn: list[str], after: str = "") -> SafeString:
    """The rows' markup; no row at all says so, unless these are the rest of a page's rows."""
    if drawn or after:
        return mark_safe("".join(drawn))  # noqa: S308 - drawn by our templates
    return mark_safe(render_to_string("gates/rows.html", {"rows": []}))  # noqa: S308


def _listed_gates(launch, f: dict, now) -> list[Gate]:
    """The gates of the page's filters and sort, each with its status at `now`."""
    return _listed(_loaded_gates(launch, f, now), f)


def _loaded_gates(launch, f: dict, now, *, among=None) -> list[Gate]:
    """The gates the page's filters of the database take (of `among` only, ids, when given),
    each with its status at `now`, in spec order."""
    gates = Gate.objects.filter(launch=launch).for_dashboard(now)
    if among is not None:
        gates = gates.filter(pk__in=among)
    if f["category"]:
        gates = gates.filter(category=f["category"])
    if f["source"]:
        gates = gates.filter(source=f["source"])
    if f["blocking"] in ("yes", "no"):
        gates = gates.filter(blocking=f["blocking"] == "yes")
    loaded = list(gates)
    for gate in loaded:
        gate.status, gate.status_reason = gate.current_status(now)
    return loaded


def _listed(loaded: list[Gate], f: dict) -> list[Gate]:
    """Of `loaded`, the gates of the status filter, in the page's sort."""
    listed = [gate for gate in loaded if not f["status"] or gate.status == f["status"]]
    if f["sort"] in SORTS:
        listed.sort(key=SORTS[f["sort"]])
    return listed


def _gate_rows(launch, gates: list[Gate], now) -> list[str]:
    """Each row's markup (templates/gates/row.html): the same for everyone who sees the launch.
    Each row is kept under what it shows (row_shows), so after a reading only the rows of the
    gates it changed are drawn again."""
    shared = {"demo_metrics": settings.DEMO_METRICS,
              "gates_url": reverse("launches:gates", args=[launch.slug])}  # fmt: skip

    def draw(gate: Gate) -> str:
        gate.spark = sparkline(kept_points(gate), gate.threshold)
        return render_to_string("gates/row.html", {"gate": gate, **shared})

    def shown(gate: Gate) -> tuple:
        return (*row_shows(gate), *shared.values())

    return [str(row) for row in rows.drawn_once(launch.pk, gates, shown, draw)]


def row_shows(gate: Gate) -> tuple:
    """Every value templates/gates/row.html reads of a gate (its status set by current_status),
    and the row's format: a row is kept in the cache under these, so one left out would show
    stale. Change the format's name when the template changes what it draws from them."""
    return (
        "row/1", gate.pk, gate.key, gate.name, gate.blocking, gate.category, gate.status,
        gate.status_reason, gate.latest_value, gate.comparator, gate.threshold, gate.unit,
        gate.last_measured_at, gate.source, gate.prometheus_id, gate.spark_points,
    )  # fmt: skip


def _gates_csv(launch, gates: list[Gate]) -> HttpResponse:
    body = csv_text(
        ["key", "name", "category", "blocking", "source", "status", "value", "comparator",
         "threshold", "unit", "measured_at", "reason"],
        ([g.key, g.name, g.category, g.blocking, g.source, g.status,
          format_decimal(g.latest_value), g.comparator, format_decimal(g.threshold), g.unit,
          g.last_measured_at.isoformat() if g.last_measured_at else "", g.status_reason]
         for g in gates),
    )  # fmt: skip
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{launch.slug}-gates.csv"'
    return response


@login_required
@require_GET
def gate_detail(request: HttpRequest, slug: str, key: str) -> HttpResponse:
    return _gate_page(request, get_gate_for_user(request, slug, key))


def _gate_page(request, gate: Gate, *, status: int = 200, error: str = "") -> HttpResponse:
    launch, now = gate.launch, timezone.now()
    allowed = permissions_for(request.user, launch)  # one query for every "may" of the page
    gate.status, gate.status_reason = gate.current_status(now)
    waivers = shown_waivers(gate)
    for waiver in waivers:
        waiver.state_now = waiver.state(now)
    context = {
        "launch": launch, "gate": gate, "now": now, "error": error,
        # Drawn from the gate's measurements alone: kept under its newest one (rows.HISTORY).
        "parts": rows.fragment(launch.pk, f"gate;{gate.pk};{gate.latest_measurement_id}", now,
                               lambda: (_gate_history_parts(launch, gate), None), rows.HISTORY),
        "waivers": waivers,
        "waiver_warning": gate.waiver_warning(now),
        # The roles whose scope covers the gate, in the launch's order.
        "roles": [r for r in current_roles(launch) if gate.category in r.categories],
        "may_attest": gate.source == Source.MANUAL and allowed.may_attest(gate),
        "may_waive": allowed.may_waive(gate),
        "may_approve": allowed.may_approve_waiver(gate),
        "may_admin": allowed.admin,
        "demo_metrics": settings.DEMO_METRICS and gate.source == Source.PROMETHEUS
        and not gate.prometheus_id,
        "user_id": request.user.pk,
    }  # fmt: skip
    return render(request, "gates/detail.html", context, status=status)


def _gate_history_parts(launch, gate: Gate) -> dict:
    """The chart, the status changes and the newest measurements of the gate's page: the same
    for everyone and at any moment until the gate gets a new measurement (and with it any status
    change), a late one, or a spec import or admin change of its rule (rows.HISTORY)."""
    history = recent_values([gate.pk], per_gate=CHART_POINTS).get(gate.pk, [])
    context = {
        "launch": launch, "gate": gate,
        "chart": chart(history, gate.threshold, width=720, height=200),
        "measurements": gate.measurements.select_related("evidence")[:50],
        "changes": gate.status_changes.all()[:20],
    }  # fmt: skip
    return rows.render_parts("gates/detail_parts.html", context,
                             ("history", "changes", "measurements"))  # fmt: skip


@login_required
@require_GET
def evidence_download(request: HttpRequest, slug: str, sha256: str) -> HttpResponse:
    """A raw report or attachment, only through a launch that holds it; never rendered inline."""
    launch = get_launch_for_user(request, slug)
    held = Evidence.objects.filter(measurements__gate__launch=launch).distinct()
    evidence = get_object_or_404(held, sha256=sha256)
    response = storage.download_response(
        storage.EVIDENCE,
        evidence.path,
        filename=evidence.name or f"{sha256}.bin",
        content_type="application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
