from dataclasses import dataclass

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from apps.accounts.services import InvitationRefused
from apps.gates import rows
from apps.gates.models import Gate, GateStatus, Source
from apps.signoffs.changes import changes_since, signed_lookups, summary
from apps.signoffs.forms import CONDITION_ROWS, DecisionForm, MeetingForm, PersonForm, SignForm
from apps.signoffs.models import (
    APPROVALS,
    Assignment,
    Decision,
    DecisionMeeting,
    Duty,
    Role,
    SignatureRequest,
    SignOff,
)
from apps.signoffs.permissions import (
    can_decide,
    can_manage_people,
    can_prepare_decision,
    can_request_signoff,
)
from apps.signoffs.readiness import readiness
from apps.signoffs.request_forms import RemindersForm, SignatureRequestForm
from apps.signoffs.requests import RequestRefused, reminders_off, request_signoff, set_reminders
from apps.signoffs.services import (
    NO_DECISION_ROLE,
    AssignmentRefused,
    SigningRefused,
    add_person,
    approval_refusals,
    check_decider,
    end_assignment,
    meaning_of,
    needs_authenticator,
    prepare_decision,
    record_decision,
    sign_off,
    signing_assignment,
)
from apps.signoffs.snapshot import GOOD, ScopedGate, Snapshot, take_snapshot
from portal.http import client_ip
from portal.launch_access import get_launch_for_user


def get_role_for_signer(request: HttpRequest, slug: str, key: str, now) -> Role:
    """The role, if the user may sign it now (its holder or current delegate); else 403/404."""
    launch = get_launch_for_user(request, slug)
    role = get_object_or_404(Role.objects.select_related("launch"), launch=launch, key=key,
                             retired_at__isnull=True)  # fmt: skip
    if signing_assignment(request.user, role, now) is None:
        raise PermissionDenied(f"you do not hold the {role.name} role on this launch")
    return role


@login_required
@require_GET
def matrix(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    now = timezone.now()
    roles = list(launch.roles.filter(retired_at__isnull=True))
    active = {s.role_id: s for s in SignOff.objects.filter(launch=launch).active()}
    holders: dict[int, list] = {}
    # Every current assignment of the launch (a few dozen at most): holders and the user's duties.
    current = list(
        Assignment.objects.current(now).filter(launch=launch).select_related("user", "delegate_of")
    )
    for a in current:
        if a.duty == Duty.SIGNER:
            holders.setdefault(a.role_id, []).append(a)
    gates = list(Gate.objects.filter(launch=launch).for_dashboard(now))
    signed = signed_lookups(active.values())
    rows = []
    for role in roles:
        signoff = active.get(role.pk)
        changes = (
            changes_since(signoff, role=role, gates=gates, now=now, signed=signed)
            if signoff
            else []
        )
        rows.append((role, holders.get(role.pk, []), signoff, summary(changes)))
    own = [a for a in current if a.user_id == request.user.pk]
    mine = {a.role_id for a in own if a.duty == Duty.SIGNER}
    context = {
        "launch": launch, "rows": rows, "mine": mine,
        "readiness": readiness(launch, now, gates=gates, roles=roles, signoffs=active.values()),
        "may_manage_people": request.user.is_staff or any(a.duty == Duty.ADMIN for a in own),
        # One query: the open requests, with their roles (signoffs/_requests.html).
        "requests": list(SignatureRequest.objects.open().filter(launch=launch)
                         .select_related("role")),
        "request_form": SignatureRequestForm(roles=roles)
        if can_request_signoff(request.user, launch, own) else None,
        "now": now,
    }  # fmt: skip
    if request.headers.get("HX-Request"):  # the live part's poll (every 15 s)
        return render(request, "signoffs/_matrix_live.html", context)
    return render(request, "signoffs/matrix.html", context)


@login_required
def sign(request: HttpRequest, slug: str, role: str) -> HttpResponse:
    now = timezone.now()
    role_obj = get_role_for_signer(request, slug, role, now)
    form = SignForm(request.POST or None, user=request.user)
    status, error = 200, ""
    if request.method == "POST" and form.is_valid():
        try:
            sign_off(
                role=role_obj, user=request.user, decision=form.cleaned_data["decision"],
                comment=form.cleaned_data["comment"], conditions=form.conditions(),
                digest_seen=form.cleaned_data["digest"],
                previous_id=form.cleaned_data["previous"],
                ip=client_ip(request), user_agent=request.headers.get("User-Agent", ""),
                reauth_method=form.reauth_method(request),
            )  # fmt: skip
        except SigningRefused as exc:
            status, error = exc.status, exc.message
        else:
            messages.success(request, f"Your {role_obj.name} sign-off is recorded.")
            return redirect("launches:signoffs", slug=slug)
    elif request.method == "POST":
        status, error = 400, form_problems(form)
    return _sign_page(request, role_obj, form, status=status, error=error)


def form_problems(form) -> str:
    """A refused form's errors in one sentence, for the banner that says nothing was signed."""
    problems = [str(message).rstrip(".") for errors in form.errors.values() for message in errors]
    return "; ".join(dict.fromkeys(problems))


@dataclass(frozen=True)
class ScopeGate:
    """What the per-person checks (Snapshot.produced_by, approval_bars) and the page read of a
    gate of the scope, small enough to keep in the cache beside the rendered parts."""

    key: str
    name: str
    source: str
    blocking: bool
    latest_id: int | None
    waiver_id: int | None


def scope_parts(role: Role, active: SignOff | None, now) -> dict:
    """The sign page's parts drawn from every gate of the role's scope (its evidence table,
    the changes since the sign-off in force, the waivers to look at), the snapshot's digest,
    and the gates the per-person checks need (manual, waived, or blocking and not good): cached
    per launch version, role and sign-off in force (apps/gates/rows.py)."""
    variant = f"sign;{role.key};active={active.pk if active else None}"
    return rows.fragment(role.launch_id, variant, now,
                         lambda: _draw_scope_parts(role, active, now))  # fmt: skip


def _draw_scope_parts(role: Role, active: SignOff | None, now) -> tuple[dict, object]:
    snapshot = take_snapshot(role, now)
    changes = []
    if active is not None and active.digest != snapshot.digest:
        scope = [scoped.gate for scoped in snapshot.gates]
        changes = changes_since(active, role=role, gates=scope, now=now,
                                signed=signed_lookups([active]))  # fmt: skip
    context = {
        "launch": role.launch, "snapshot": snapshot, "active": active, "changes": changes,
        "waiver_warnings": [(g.gate, text) for g in snapshot.gates
                            if (text := g.gate.waiver_warning(now, role.launch.target_t0))],
    }  # fmt: skip
    parts = rows.render_parts("signoffs/sign_scope.html", context,
                              ("changes", "waiver_warnings", "evidence"))  # fmt: skip
    checked = [ScopedGate(ScopeGate(g.gate.key, g.gate.name, g.gate.source, g.gate.blocking,
                                    g.gate.latest_id, g.gate.waiver_id), g.status, g.reason)
               for g in snapshot.gates if g.gate.source == Source.MANUAL
               or g.status == GateStatus.WAIVED or g.status not in GOOD]  # fmt: skip
    parts.update(count=len(snapshot.gates), digest=snapshot.digest, checked=checked)
    return parts, rows.stale_at([g.gate for g in snapshot.gates], now)


def _sign_page(request, role: Role, form: SignForm, *, status: int, error: str) -> HttpResponse:
    now = timezone.now()
    active = SignOff.objects.filter(role=role).active().first()
    scope = scope_parts(role, active, now)
    # What the per-person checks read: the digest and the gates that may bar an approval.
    snapshot = Snapshot(role=role, gates=scope["checked"], data={}, digest=scope["digest"])
    # A refused or fresh page always carries the state it shows now.
    data = form.data.copy() if form.is_bound else {}
    data.update({"digest": snapshot.digest, "previous": active.pk if active else ""})
    if form.is_bound:
        form.data = data
    else:
        form.initial.update(data)
    name = request.user.get_full_name() or request.user.get_username()
    conflicts = snapshot.produced_by(request.user)
    refused = approval_refusals(snapshot, conflicts)
    context = {
        "launch": role.launch, "role": role, "snapshot": snapshot, "active": active,
        "scope": scope,
        "form": form, "error": error, "name": name,
        "assignment": signing_assignment(request.user, role, now),
        "conflicts": conflicts,
        "approval_refused": refused,
        "decision_choices": [(value, label, bool(refused) and value in APPROVALS)
                             for value, label in Decision.choices],
        "chosen": form.data.get("decision", "") if form.is_bound else "",
        "condition_rows": [(i, *(form.data.get(f"{part}_{i}", "") if form.is_bound else ""
                                 for part in ("condition", "owner", "due")))
                           for i in range(CONDITION_ROWS)],
        "totp_enrolled": form.totp is not None,
        "mfa_required": needs_authenticator(user=request.user, launch=role.launch),
        "meanings": [(label, meaning_of(name=name, role=role, decision=value,
                                        digest=snapshot.digest))
                     for value, label in Decision.choices],
    }  # fmt: skip
    return render(request, "signoffs/sign.html", context, status=status)


@login_required
def decision(request: HttpRequest, slug: str) -> HttpResponse:
    """The Go/No-Go: the program manager prepares the meeting record; a holder of the launch's
    decision role records the decision, re-authenticated, beside the recommendation."""
    launch = get_launch_for_user(request, slug)
    meeting = DecisionMeeting.objects.filter(launch=launch).first()
    prefill = {"attendees": meeting.attendees, "notes": meeting.notes} if meeting else {}
    step = request.POST.get("step") if request.method == "POST" else None
    prepare = MeetingForm(request.POST if step == "prepare" else None, prefix="meeting",
                          initial=prefill)  # fmt: skip
    form = DecisionForm(request.POST if step == "decide" else None, user=request.user,
                        initial=prefill)  # fmt: skip
    status, error = 200, ""
    try:
        if step == "prepare" and prepare.is_valid():
            prepare_decision(launch=launch, user=request.user, **prepare.cleaned_data)
            messages.success(request, "The meeting record is saved.")
            return redirect("launches:decision", slug=slug)
        if step == "decide":
            check_decider(launch=launch, user=request.user, now=timezone.now())
            if form.is_valid():
                record_decision(launch=launch, user=request.user, **form.decision_input())
                messages.success(request, "The Go/No-Go decision is recorded.")
                return redirect("launches:decision", slug=slug)
    except SigningRefused as exc:
        status, error = exc.status, exc.message
    if status == 200 and (form.errors or prepare.errors or step not in (None, "prepare", "decide")):
        status = 400
    return _decision_page(request, launch, form, prepare, meeting, status=status, error=error)


def _decision_page(request, launch, form, prepare, meeting, *, status: int,
                   error: str) -> HttpResponse:  # fmt: skip
    now = timezone.now()
    role = launch.roles.filter(key=launch.decision_role, retired_at__isnull=True).first()
    context = {
        "launch": launch, "readiness": readiness(launch, now), "form": form, "prepare": prepare,
        "meeting": meeting, "role": role, "error": error, "no_decision_role": NO_DECISION_ROLE,
        "may_decide": can_decide(request.user, launch, now),
        "may_prepare": can_prepare_decision(request.user, launch),
        "totp_enrolled": form.totp is not None,
        "decisions": launch.decisions.select_related("superseded_by")[:20],
    }  # fmt: skip
    return render(request, "signoffs/decision.html", context, status=status)


@login_required
def people(request: HttpRequest, slug: str) -> HttpResponse:
    """Who does what on the launch, past and present; launch admins (and staff) add and end."""
    launch = get_launch_for_user(request, slug)
    may_manage = can_manage_people(request.user, launch)
    if request.method == "POST" and not may_manage:
        raise PermissionDenied("only the launch's admins assign its roles")
    now = timezone.now()
    assignments = list(Assignment.objects.filter(launch=launch).for_people_page())
    roles = list(launch.roles.filter(retired_at__isnull=True))
    holders = [a for a in assignments if a.holds_role(now)]
    form = PersonForm(request.POST or None, launch=launch, roles=roles, holders=holders)
    if request.method == "POST" and "end" in request.POST:
        return _end(request, launch, request.POST["end"])
    if request.method == "POST" and form.is_valid():
        try:
            assignment, invitation = add_person(
                launch=launch, email=form.cleaned_data["email"], name=form.cleaned_data["name"],
                what=form.assignment(), actor=request.user,
                base_url=request.build_absolute_uri("/"),
            )  # fmt: skip
        except (AssignmentRefused, InvitationRefused) as exc:
            form.add_error(None, str(exc))
        else:
            sent = " and invited (the link is on its way)" if invitation and invitation.sent else ""
            messages.success(request, f"{assignment.user.email} is assigned{sent}.")
            return redirect("launches:people", slug=slug)
    rows = [(a, a.state(now)) for a in assignments]
    context = {"launch": launch, "rows": rows, "form": form, "may_manage": may_manage}
    return render(request, "signoffs/people.html", context, status=400 if form.errors else 200)


def _end(request: HttpRequest, launch, pk: str) -> HttpResponse:
    queryset = Assignment.objects.filter(launch=launch).select_related("launch", "user", "role",
                                                                        "delegate_of")  # fmt: skip
    assignment = get_object_or_404(queryset, pk=pk if pk.isdigit() else None)
    if request.POST.get("confirm") != "yes":
        # Ending takes a second, deliberate step: the page says what it ends.
        context = {"launch": launch, "assignment": assignment,
                   "own": assignment.user_id == request.user.pk}  # fmt: skip
        return render(request, "signoffs/end_confirm.html", context)
    try:
        end_assignment(assignment=assignment, actor=request.user)
    except AssignmentRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"{assignment} has ended.")
    return redirect("launches:people", slug=launch.slug)


# --- sign-off requests and reminders ------------------------------------------------------------


@login_required
@require_POST
def signoff_request(request: HttpRequest, slug: str) -> HttpResponse:
    """The program manager asks one role, or every required role, to sign by a date."""
    launch = get_launch_for_user(request, slug)
    if not can_request_signoff(request.user, launch):
        raise PermissionDenied("only the program manager asks roles to sign")
    form = SignatureRequestForm(request.POST, roles=list(launch.roles.filter(retired_at=None)))
    if not form.is_valid():
        wrong = "; ".join(f"{k.replace('_', ' ')}: {' '.join(v)}" for k, v in form.errors.items())
        messages.error(request, f"The request was not sent ({wrong}).")
        return redirect("launches:signoffs", slug=slug)
    try:
        made = request_signoff(
            launch=launch, roles=form.chosen_roles(), user=request.user,
            due_at=form.cleaned_data["due_at"], message=form.cleaned_data["message"],
            base_url=request.build_absolute_uri("/"),
        )  # fmt: skip
    except RequestRefused as exc:
        if exc.status == 403:
            raise PermissionDenied(exc.message) from exc
        messages.error(request, f"The request was not sent: {exc.message}.")
    else:
        names = ", ".join(r.role.name for r in made)
        messages.success(request, f"Sign-off requested from {names}; the signers are emailed.")
    return redirect("launches:signoffs", slug=slug)


@login_required
def notification_settings(request: HttpRequest, slug: str) -> HttpResponse:
    """A person turns their reminders for the launch off or on; requests still arrive."""
    launch = get_launch_for_user(request, slug)
    off = reminders_off(launch=launch, user=request.user)
    form = RemindersForm(request.POST or None, initial={"reminders": "off" if off else "on"})
    if request.method == "POST" and form.is_valid():
        off = form.cleaned_data["reminders"] == "off"
        set_reminders(launch=launch, user=request.user, off=off)
        messages.success(request, f"Reminders for {launch.name} are {'off' if off else 'on'}.")
        return redirect("launches:notifications", slug=slug)
    context = {"launch": launch, "form": form, "reminders_off": off}
    return render(request, "signoffs/notifications.html", context,
                  status=400 if form.errors else 200)  # fmt: skip
