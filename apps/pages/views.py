from collections import Counter
from datetime import UTC

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import DatabaseError, connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from kombu import Connection

from apps.audit.services import recent_events
from apps.demo import metrics as demo_metrics
from apps.gates import rows
from apps.gates.models import Gate, GateStatus, Source, Waiver
from apps.gates.summary import active_gate_counts, dimension_summary, owners_of
from apps.launches.calendar import calendar_token, launch_calendar, user_from_token
from apps.launches.models import Activity, ActivityStatus, Launch
from apps.launches.timeline import build_plan, gantt, is_slipped, key_of
from apps.launches.timeline import rows as timeline_rows
from apps.pages.forms import ActivityForm
from apps.signoffs.forecast import chart as burnup_chart
from apps.signoffs.forecast import launch_forecast
from apps.signoffs.inbox import kept_inbox
from apps.signoffs.permissions import (
    can_edit_timeline,
    listed_launches,
    permissions_for,
    visible_launches,
)
from apps.signoffs.readiness import Readiness, gate_blockers, readiness, readiness_of_many
from apps.specs.services import update_activity
from portal.launch_access import get_launch_for_user

OVERVIEW_GATES = 25  # the overview lists gates needing attention; the gates page has them all


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """The database and the broker answer: 200; otherwise 503 naming which does not."""
    problems = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        problems["database"] = str(exc).splitlines()[0][:200]
    try:
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        with Connection(settings.CELERY_BROKER_URL, transport_options=options,
                        connect_timeout=2) as conn:  # fmt: skip
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:  # noqa: BLE001 - any broker failure means "not ready"
        problems["broker"] = f"{type(exc).__name__}: {exc}"[:200]
    status = 503 if problems else 200
    return JsonResponse({"status": "unavailable" if problems else "ok", **problems}, status=status)


@login_required
@require_GET
def launch_list(request: HttpRequest) -> HttpResponse:
    launches, now = listed_launches(request.user), timezone.now()
    context = {"launches": launches, "rows": launch_rows(launches, now), "now": now,
               "inbox": kept_inbox(request.user, now, launches)}  # fmt: skip
    return render(request, "launches/list.html", context)


def launch_rows(launches: list[Launch], now) -> list:
    """Each launch's row of the list (templates/launches/list_row.html), kept under what it shows
    of the launch itself (list_row_shows), its record (`record_version`) and its gates' statuses
    (rows.STATUS), until a gate's evidence or waiver runs out: a sign-off or a reading of one
    launch draws its row alone again, and a list whose rows are all kept reads no gate, role or
    sign-off. Two cache round trips, whatever the number of launches."""
    by_pk = {launch.pk: launch for launch in launches}

    def draw(missing: list[int]) -> dict:
        drawn = [by_pk[pk] for pk in missing]
        states, counts = readiness_of_many(drawn, now), active_gate_counts(missing, now)
        return {pk: (render_to_string("launches/list_row.html", {
                    "launch": by_pk[pk], "state": states[pk], "gate_count": counts[pk],
                    "days_to_t0": by_pk[pk].days_to_t0(now)}), states[pk].until)
                for pk in missing}  # fmt: skip

    shown = {launch.pk: list_row_shows(launch, now) for launch in launches}
    kept = rows.fragments(list(by_pk), "launch-list;row", now, draw, rows.STATUS, each=shown)
    return [mark_safe(kept[pk]) for pk in by_pk]  # noqa: S308 - drawn by our template


def list_row_shows(launch: Launch, now) -> tuple:
    """What templates/launches/list_row.html shows of the launch itself, and what its readiness
    is drawn from besides the gates' statuses: its record (Launch.objects.with_record_version)
    and required roles (with_counts). Change the format's name when the template changes."""
    return (
        "list-row/1", launch.record_version, launch.slug, launch.name, launch.version,
        launch.status, launch.target_t0, launch.days_to_t0(now), launch.required_roles,
    )  # fmt: skip


@login_required
@require_GET
def launch_overview(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug, record_version=True, deciding=True)
    with rows.read_once(launch.pk, (rows.STATUS, rows.GATES, rows.PLAN)):
        return _overview(request, launch)


def _overview(request: HttpRequest, launch: Launch) -> HttpResponse:
    now = timezone.now()
    record = overview_record_part(launch, now)
    roles, signed = record["roles"], record["signed"]
    allowed = permissions_for(request.user, launch)
    parts = overview_gate_parts(launch, now, roles=roles, allowed=allowed, signed=signed)
    blockers = [*parts["blockers"], *signed.blockers]
    state = Readiness(ready=not blockers, blockers=blockers, approvals=signed.approvals,
                      signoffs=signed.signoffs)  # fmt: skip
    context = {
        "launch": launch, "now": now, "roles": roles, "readiness": state,
        "gate_parts": parts, "forecast_part": forecast_part(launch, now, signed),
        "allowed": allowed,
        "plan_parts": overview_plan_parts(launch, now),
        "missing": [b for b in state.blockers if b.kind == "signoff"],
        "brief": [(role, state.signoffs.get(role.pk)) for role in roles],
        "record": record["parts"],
        "recent": recent_events(launch.slug),
    }  # fmt: skip
    if request.headers.get("HX-Request"):  # the live part's poll (every 15 s)
        return render(request, "launches/overview_live.html", context)
    context["inbox"] = kept_inbox(request.user, now, [launch])
    return render(request, "launches/overview.html", context)


def overview_record_part(launch, now) -> dict:
    """What the overview reads from the launch's record: its unretired roles, the sign-offs' half
    of readiness (readiness() over no gates: the gates' half comes with the cached gate parts;
    together, readiness() over the launch), and the parts drawn from them and from the decision
    in force (templates/launches/overview_record.html). Kept under the launch's newest audit
    event of what people did (`record_version`: a sign-off, its invalidation, a role change, a
    decision) and gate statuses (rows.STATUS: a spec import, an admin change)."""

    def draw() -> tuple[dict, None]:
        roles = list(launch.roles.filter(retired_at__isnull=True))
        signed = readiness(launch, now, gates=[], roles=roles)
        context = {"launch": launch, "roles": roles, "decided": launch.current_decision(),
                   "missing": signed.blockers,
                   "brief": [(role, signed.signoffs.get(role.pk)) for role in roles]}  # fmt: skip
        parts = rows.render_parts("launches/overview_record.html", context,
                                  ("decision", "missing", "brief", "roles"))  # fmt: skip
        return {"roles": roles, "signed": signed, "parts": parts}, None

    return rows.fragment(launch.pk, f"record/2;{launch.record_version}", now, draw, rows.STATUS)


def overview_plan_parts(launch, now) -> dict:
    """The overview's parts drawn from the plan (templates/launches/overview_plan.html): its
    phases and activities, its sequence and the overdue activities. Cached per version of the
    launch's plan (rows.PLAN: a spec import, an activity update and an admin change bump it) and
    day: what is overdue or open moves only with the day."""
    variant = f"plan;day={now.date()};start={launch.start_date}"

    def draw() -> tuple[dict, None]:
        phases = list(launch.phases.prefetch_related("activities"))
        overdue = overdue_activities(launch, phases, now)
        context = {"launch": launch, "phases": phases, "overdue": overdue,
                   "sequence": launch.sequence.all()}  # fmt: skip
        parts = rows.render_parts("launches/overview_plan.html", context,
                                  ("phases", "sequence", "overdue"))  # fmt: skip
        return {**parts, "overdue_count": len(overdue)}, None

    return rows.fragment(launch.pk, variant, now, draw, rows.PLAN)


def _scope(categories) -> str:
    return "all" if categories is None else ",".join(sorted(categories))


def overview_gate_parts(launch, now, *, roles, allowed, signed) -> dict:
    """The overview's parts drawn from every gate (templates/launches/overview_gates.html), and
    the gates' readiness blockers, so that their cost does not grow with the gates
    (apps/gates/rows.py). In two fragments, each cached per the categories the person may waive
    and attest, the day and the sign-offs in force (a sign-off does not bump a version):
    - which gates need attention or block, and the parts drawn from statuses alone (counts,
      dimensions, waivers): kept under the launch's statuses (rows.STATUS);
    - those gates' rows, with their newest value and reason: kept under the gates' readings
      (rows.GATES), and drawn again from those gates alone, so that a reading which changes no
      status (a CI report posted again) does not load every gate."""
    scope = f"waive={_scope(allowed.waive_scope)};attest={_scope(allowed.attestable)}"
    variant = f"overview;{scope};closed={bool(launch.closed_at)};{_moment(launch, now, signed)}"
    chosen = rows.fragment(launch.pk, variant, now,
                           lambda: _draw_gate_choice(launch, now, roles, allowed),
                           rows.STATUS)  # fmt: skip
    which = f"{variant};shown={chosen['attention']};{chosen['blocking']}"
    shown = rows.fragment(launch.pk, which, now,
                          lambda: _draw_shown_gates(launch, now, chosen, allowed))  # fmt: skip
    return {**chosen["parts"], **shown}


def _draw_gate_choice(launch, now, roles, allowed) -> tuple[dict, object]:
    gates = list(Gate.objects.filter(launch=launch).for_dashboard(now))
    for gate in gates:
        gate.status, gate.status_reason = gate.current_status(now)
    counts = Counter(gate.status for gate in gates)
    # Waived gates stay in view: their waiver is listed with them, and it expires.
    attention = sorted((g for g in gates if g.status != GateStatus.PASSING),
                       key=lambda g: not g.blocking)  # fmt: skip
    blocking = [(g.pk, owners_of(g, roles)) for g in gates if g.blocking
                and g.status not in (GateStatus.PASSING, GateStatus.WAIVED)]  # fmt: skip
    context = {
        "counts": [(status, counts.get(status, 0)) for status in GateStatus.values],
        "dimensions": dimension_summary(gates),
        "gates_url": reverse("launches:gates", args=[launch.slug]),
        "pending_waivers": list(Waiver.objects.pending().filter(
            gate__launch=launch, gate__retired_at__isnull=True).select_related("gate")),
        "waiver_warnings": [(g, text) for g in gates if g.status == GateStatus.WAIVED
                            and (text := g.waiver_warning(now, launch.target_t0))],
    }  # fmt: skip
    parts = rows.render_parts("launches/overview_gates.html", context,
                              ("dimensions", "counts", "waivers"))  # fmt: skip
    attention_pks = [g.pk for g in attention[:OVERVIEW_GATES]]
    chosen = {"parts": parts, "total": len(gates), "attention": attention_pks,
              "attention_count": len(attention), "blocking": blocking}  # fmt: skip
    return chosen, rows.stale_at(gates, now)


def attention_row_shows(gate: Gate) -> tuple:
    """Every value templates/launches/overview_attention_row.html reads of a gate (its status
    set by current_status), and the row's format: the row is kept under these (with the link
    to the gates page and whether it offers to attest), so one left out would show stale."""
    return (
        "attention/1", gate.pk, gate.key, gate.name, gate.blocking, gate.status,
        gate.status_reason, gate.category, gate.comparator, gate.threshold, gate.unit,
        gate.latest_value, gate.source, gate.format, gate.last_measured_at,
    )  # fmt: skip


def _draw_shown_gates(launch, now, chosen: dict, allowed) -> tuple[dict, object]:
    """The rows of the gates `chosen` (_draw_gate_choice) shows, and the gates' blockers."""
    wanted = {*chosen["attention"], *(pk for pk, _ in chosen["blocking"])}
    gates = {g.pk: g for g in Gate.objects.filter(pk__in=wanted).for_dashboard(now)}
    for gate in gates.values():
        gate.status, gate.status_reason = gate.current_status(now)
    blocking = [(gates[pk], owners) for pk, owners in chosen["blocking"]]
    gates_url = reverse("launches:gates", args=[launch.slug])

    def attest_link(gate: Gate) -> bool:
        return gate.source == Source.MANUAL and not launch.closed_at and allowed.may_attest(gate)

    def draw(gate: Gate) -> str:
        return render_to_string("launches/overview_attention_row.html",
                                {"gate": gate, "gates_url": gates_url,
                                 "attest_link": attest_link(gate)})  # fmt: skip

    attention = rows.drawn_once(
        launch.pk, [gates[pk] for pk in chosen["attention"]],
        lambda gate: (*attention_row_shows(gate), gates_url, attest_link(gate)), draw,
        name="overview-attention",
    )  # fmt: skip
    context = {
        "total": chosen["total"], "blocking_gates": blocking, "waivable": allowed.waive_scope,
        "attention_rows": attention, "attention_count": chosen["attention_count"],
        "gates_url": gates_url,
    }  # fmt: skip
    parts = rows.render_parts("launches/overview_gates.html", context, ("blocking", "attention"))
    blocking_gates = [gate for gate, _ in blocking]
    parts.update(blockers=gate_blockers(blocking_gates, now), blocking_count=len(blocking))
    return parts, rows.stale_at(gates.values(), now)


FORECAST_COLOURS = {"passing": "#2f855a", "waived": "#b7791f", "approved": "#1c4532",
                    "failing": "#c53030", "unknown": "#718096", "pending": "#e2e8f0",
                    "awaited": "#faf089"}  # fmt: skip
FORECAST_MEANINGS = [
    ("passing", "blocking gate passing"), ("waived", "blocking gate waived"),
    ("approved", "required sign-off approved"), ("failing", "blocking gate failing"),
    ("unknown", "blocking gate unknown (stale or unreadable evidence)"),
    ("pending", "blocking gate with no evidence yet"), ("awaited", "required sign-off awaited"),
]  # fmt: skip


def readiness_forecast(launch, now, *, gates=None, roles=None) -> dict:
    """The forecast and its burn-up's geometry, as templates/launches/overview_forecast.html
    reads them (each part of a day's column with its colour)."""
    found = launch_forecast(launch, now, gates=gates, roles=roles)
    c = burnup_chart(found)
    columns = [(x, w, title, [(name, y, h, FORECAST_COLOURS[name]) for name, y, h in stack])
               for x, w, title, stack in c.columns]  # fmt: skip
    marks = {"label_x": c.left - 4, "total_label_y": c.total_y + 4, "tick_y": c.height - 8,
             "t0_at_end": c.t0_x is not None and c.t0_x > c.width - 30}  # fmt: skip
    legend = [(name, meaning, FORECAST_COLOURS[name]) for name, meaning in FORECAST_MEANINGS]
    return {"forecast": found, "burnup": c, "columns": columns, "marks": marks, "legend": legend}


def _moment(launch, now, signed) -> str:
    """What a cached forecast also depends on besides the launch's version: T-0, the day and the
    sign-offs in force (a sign-off does not bump the version)."""
    signoffs = sorted((s.pk, str(s.invalidated_at)) for s in signed.signoffs.values())
    return f"t0={launch.target_t0};day={now.astimezone(UTC).date()};signoffs={signoffs}"


def forecast_part(launch, now, signed: Readiness) -> str:
    """The readiness forecast of the overview and the timeline
    (templates/launches/overview_forecast.html), cached per launch status version (a status
    change, a waiver, a spec import, an admin change: a reading that changes no status leaves
    it), T-0, the day and the sign-offs in force (`signed`: readiness() over no gates), until a
    blocking gate's evidence or waiver runs out."""
    variant = f"forecast;{_moment(launch, now, signed)}"

    def draw() -> tuple[str, object]:
        gates = list(Gate.objects.filter(launch=launch, blocking=True).for_dashboard(now))
        for gate in gates:
            gate.status = gate.current_status(now)[0]
        html = render_to_string("launches/overview_forecast.html",
                                readiness_forecast(launch, now, gates=gates))  # fmt: skip
        return html, rows.stale_at(gates, now)

    return mark_safe(rows.fragment(launch.pk, variant, now, draw, rows.STATUS))  # noqa: S308


def timeline_plan_parts(launch, now, *, may_edit: bool) -> dict:
    """The timeline's parts drawn from the plan (templates/launches/timeline_plan.html): the
    forecast T-0 and the Gantt chart, the activities' rows (with their edit forms for a program
    manager) and the sequence. Cached as the overview's plan is (rows.PLAN, the day), and per
    whether the person edits; the forms carry rows.CSRF_SLOT in place of the person's token."""
    variant = (
        f"timeline;day={now.date()};start={launch.start_date};t0={launch.target_t0};edit={may_edit}"
    )

    def draw() -> tuple[dict, None]:
        phases = list(launch.phases.prefetch_related("activities"))
        plan = build_plan(launch, phases, now.date())
        context = {"launch": launch, "plan": plan, "gantt": gantt(launch, phases, now.date(), plan),
                   "rows": timeline_rows(plan), "sequence": launch.sequence.all(),
                   "may_edit": may_edit, "statuses": ActivityStatus.choices,
                   "csrf_token": rows.CSRF_SLOT}  # fmt: skip
        return rows.render_parts("launches/timeline_plan.html", context,
                                 ("head", "rows", "sequence")), None  # fmt: skip

    return rows.fragment(launch.pk, variant, now, draw, rows.PLAN)


def overdue_activities(launch, phases, now) -> list:
    current = (now.date() - launch.start_date).days / 7
    return [a for p in phases for a in p.activities.all() if is_slipped(a, current)]


@login_required
@require_GET
def timeline(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    now = timezone.now()
    may_edit = can_edit_timeline(request.user, launch)
    context = {
        "launch": launch, "now": now,
        "plan_parts": rows.with_csrf_token(timeline_plan_parts(launch, now, may_edit=may_edit),
                                           request),
        # The sign-offs in force (one query), which the cached forecast is kept under.
        "forecast_part": forecast_part(launch, now, readiness(launch, now, gates=[], roles=[])),
        "calendar_url": request.build_absolute_uri(
            reverse("calendar", args=[calendar_token(request.user)])
        ),
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
        phases = list(launch.phases.prefetch_related("activities"))
        plan = build_plan(launch, phases, timezone.now().date())
        context = {"launch": launch, "row": plan.row(key_of(activity)), "may_edit": True,
                   "statuses": ActivityStatus.choices}  # fmt: skip
        return render(request, "launches/_activity_row.html", context)
    return redirect("launches:timeline", slug=slug)


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """The ICS feed of the user's launches; the token in the URL stands for the sign-in."""
    user = user_from_token(token, get_user_model().objects)
    if user is None:
        raise Http404("no such calendar")
    launches = visible_launches(
        user, Launch.objects.prefetch_related("phases__activities", "sequence")
    )
    body = launch_calendar(launches, host=request.get_host().split(":")[0])
    return HttpResponse(body, content_type="text/calendar; charset=utf-8")


@csrf_exempt  # Prometheus' API takes form POSTs; this one serves the demo only
@require_http_methods(["GET", "POST"])
def demo_prometheus_query(request: HttpRequest) -> JsonResponse:
    """`make run`'s demo metrics source: Prometheus' /api/v1/query for the demo launch."""
    if not settings.DEMO_METRICS:
        raise Http404("the demo metrics source is off")
    query = request.POST.get("query") or request.GET.get("query", "")
    status, body = demo_metrics.answer(query)
    return JsonResponse(body, status=status)
