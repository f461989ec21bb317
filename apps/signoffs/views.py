from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.accounts.permissions import can_decide
from apps.launches.views import get_launch_for_user
from apps.signoffs.forms import CONDITION_ROWS, DecisionForm, SignForm
from apps.signoffs.models import Assignment, Decision, Duty, Role, SignOff
from apps.signoffs.readiness import readiness
from apps.signoffs.services import (
    SigningRefused,
    meaning_of,
    record_decision,
    sign_off,
    signing_assignment,
)
from apps.signoffs.snapshot import take_snapshot


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
    current = Assignment.objects.current(now).filter(launch=launch, duty=Duty.SIGNER)
    for a in current.select_related("user", "delegate_of"):
        holders.setdefault(a.role_id, []).append(a)
    rows = [(role, holders.get(role.pk, []), active.get(role.pk)) for role in roles]
    mine = {a.role_id for a in current if a.user_id == request.user.pk}
    context = {"launch": launch, "rows": rows, "mine": mine, "readiness": readiness(launch, now)}
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
                ip=request.META.get("REMOTE_ADDR"),
                user_agent=request.headers.get("User-Agent", ""),
            )  # fmt: skip
        except SigningRefused as exc:
            status, error = exc.status, exc.message
        else:
            messages.success(request, f"Your {role_obj.name} sign-off is recorded.")
            return redirect("launches:signoffs", slug=slug)
    elif request.method == "POST":
        status = 400
    return _sign_page(request, role_obj, form, status=status, error=error)


def _sign_page(request, role: Role, form: SignForm, *, status: int, error: str) -> HttpResponse:
    now = timezone.now()
    snapshot = take_snapshot(role, now)
    active = SignOff.objects.filter(role=role).active().first()
    # A refused or fresh page always carries the state it shows now.
    data = form.data.copy() if form.is_bound else {}
    data.update({"digest": snapshot.digest, "previous": active.pk if active else ""})
    if form.is_bound:
        form.data = data
    else:
        form.initial.update(data)
    name = request.user.get_full_name() or request.user.get_username()
    context = {
        "launch": role.launch, "role": role, "snapshot": snapshot, "active": active,
        "form": form, "error": error, "rows": range(CONDITION_ROWS), "name": name,
        "assignment": signing_assignment(request.user, role, now),
        "totp_enrolled": form.totp is not None,
        "meanings": [(label, meaning_of(name=name, role=role, decision=value,
                                        digest=snapshot.digest))
                     for value, label in Decision.choices],
    }  # fmt: skip
    return render(request, "signoffs/sign.html", context, status=status)


@login_required
def decision(request: HttpRequest, slug: str) -> HttpResponse:
    """The Go/No-Go: recorded by the program manager or the CTO/CEO, beside the recommendation."""
    launch = get_launch_for_user(request, slug)
    now = timezone.now()
    may_decide = can_decide(request.user, launch)
    form = DecisionForm(request.POST or None)
    if request.method == "POST":
        if not may_decide:
            raise PermissionDenied("only the program manager or the CTO/CEO records the Go/No-Go")
        if form.is_valid():
            record_decision(launch=launch, user=request.user, **form.cleaned_data)
            messages.success(request, "The Go/No-Go decision is recorded.")
            return redirect("launches:decision", slug=slug)
    context = {"launch": launch, "readiness": readiness(launch, now), "form": form,
               "may_decide": may_decide, "decisions": launch.decisions.all()[:20]}  # fmt: skip
    return render(request, "signoffs/decision.html", context, status=400 if form.errors else 200)
