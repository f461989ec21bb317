from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from apps.accounts.permissions import can_attest, can_waive
from apps.gates.evidence import store_evidence
from apps.gates.forms import AttestationForm, WaiverForm
from apps.gates.models import Gate, Source
from apps.gates.services import attest, grant_waiver
from apps.launches.views import get_launch_for_user


def get_gate_for_user(request: HttpRequest, slug: str, key: str) -> Gate:
    """The one door to a gate: its launch must be visible to the user (404 otherwise)."""
    launch = get_launch_for_user(request, slug)
    return get_object_or_404(Gate.objects.active().select_related("launch"), launch=launch, key=key)


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
        raise PermissionDenied("only a holder of a role covering this gate may waive it")
    form = WaiverForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            grant_waiver(gate=gate, user=request.user, **form.cleaned_data)
        except ValueError as exc:
            form.add_error(None, str(exc))
        else:
            until = form.cleaned_data["expires_at"]
            messages.success(request, f"“{gate.name}” is waived until {until:%Y-%m-%d %H:%M} UTC.")
            return redirect("launches:overview", slug=slug)
    status = 400 if form.errors else 200
    return render(request, "gates/waive.html", {"gate": gate, "form": form}, status=status)
