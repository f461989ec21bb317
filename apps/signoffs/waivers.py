"""Waivers of gates: asked for, approved or refused by a second person, revoked, warned about before
they end. The rows are the gates app's (Waiver); the rules are the sign-offs': who may ask or decide
(a holder of a role covering the gate, or of the launch's decision role), and the separation of
duties (whoever produced a gate's evidence no longer holds an approval over it).
"""

from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from apps.audit.services import record
from apps.gates.models import Gate, GateStatus, Waiver, WaiverState
from apps.gates.services import update_covering_waiver, waiver_limit
from apps.signoffs.models import Assignment, Duty
from apps.signoffs.permissions import can_approve_waiver, can_revoke_waiver, can_waive
from apps.signoffs.services import invalidate_conflicts, invalidate_for_gate


class WaiverRefused(Exception):
    """A waiver request, approval, refusal or revocation that is not allowed; `status` is the HTTP
    status the page or API answers (400 bad input, 403 not yours, 409 no longer possible)."""

    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


def request_waiver(*, gate: Gate, user, reason: str, expires_at, now=None) -> Waiver:
    """Ask to waive a gate until `expires_at`.

    A blocking gate's waiver waits for a second person's approval (approve_waiver) and counts for
    nothing until then; a non-blocking gate's is granted by its requester at once. Refused past the
    launch's limit (waiver_max_days, and T+24h unless the launch lets waivers outlast it).
    """
    gate.launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    if not can_waive(user, gate):
        raise WaiverRefused(403, "only a holder of a role covering this gate may ask to waive it")
    if not reason.strip():
        raise WaiverRefused(400, "a waiver needs a reason")
    if expires_at <= now:
        raise WaiverRefused(400, "a waiver must expire in the future")
    limit, rule = waiver_limit(gate.launch, now)
    if expires_at > limit:
        raise WaiverRefused(400, f"{rule}: it may run until {limit:%Y-%m-%d %H:%M} UTC at most")
    name = user.get_full_name() or user.get_username()
    at_once = not gate.blocking
    with transaction.atomic():
        waiver = Waiver.objects.create(
            gate=gate, reason=reason.strip(), requested_by=user, requested_by_name=name,
            requested_at=now, expires_at=expires_at, granted_by=user if at_once else None,
            granted_by_name=name if at_once else "", granted_at=now if at_once else None,
        )  # fmt: skip
        update_covering_waiver(gate_id=gate.pk)
        action = "waiver.granted" if at_once else "waiver.requested"
        _waiver_event(waiver, action, actor=user, reason=waiver.reason, expires_at=expires_at)
        if at_once:
            _waiver_took_effect(waiver, user, now)
    return waiver


def approve_waiver(*, waiver: Waiver, user, now=None) -> Waiver:
    """A second person approves a pending request: from now on the waiver counts."""
    waiver.gate.launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    with transaction.atomic():
        waiver = _pending(waiver, user, can_approve_waiver)
        if waiver.expires_at <= now:
            raise WaiverRefused(409, "this request's expiry has passed: it must be asked again")
        name = user.get_full_name() or user.get_username()
        Waiver.objects.filter(pk=waiver.pk).update(granted_by=user, granted_by_name=name,
                                                   granted_at=now)  # fmt: skip
        update_covering_waiver(gate_id=waiver.gate_id)
        waiver.granted_by, waiver.granted_by_name, waiver.granted_at = user, name, now
        _waiver_event(waiver, "waiver.approved", actor=user, requested_by=waiver.requested_by_name)
        _waiver_took_effect(waiver, user, now)
    return waiver


def refuse_waiver(*, waiver: Waiver, user, reason: str, now=None) -> Waiver:
    """A second person refuses a pending request, with the reason."""
    waiver.gate.launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    if not reason.strip():
        raise WaiverRefused(400, "say why the waiver is refused")
    with transaction.atomic():
        waiver = _pending(waiver, user, can_approve_waiver)
        name = user.get_full_name() or user.get_username()
        Waiver.objects.filter(pk=waiver.pk).update(refused_at=now, refused_by_name=name,
                                                   refusal_reason=reason.strip())  # fmt: skip
        update_covering_waiver(gate_id=waiver.gate_id)
        waiver.refused_at, waiver.refused_by_name = now, name
        waiver.refusal_reason = reason.strip()
        _waiver_event(waiver, "waiver.refused", actor=user, reason=waiver.refusal_reason)
    return waiver


def _pending(waiver: Waiver, user, may_decide) -> Waiver:
    """The request, locked and still pending, that `user` (not its requester) may decide."""
    waiver = Waiver.objects.select_for_update().select_related("gate__launch").get(pk=waiver.pk)
    if waiver.requested_by_id == user.pk:
        raise WaiverRefused(403, "you asked for this waiver: another person must decide on it")
    if not may_decide(user, waiver.gate):
        raise WaiverRefused(
            403, "only a holder of a role covering this gate, or of the launch's decision role, "
            "may approve or refuse its waiver",
        )  # fmt: skip
    if waiver.state(timezone.now()) != WaiverState.PENDING:
        raise WaiverRefused(409, f"this waiver is {waiver.state(timezone.now())}, not pending")
    return waiver


def revoke_waiver(*, waiver: Waiver, user, reason: str, now=None) -> Waiver:
    """Withdraw a waiver (pending or active), with the reason. The gate's status, and every
    approval that relied on the waiver, follow at once."""
    waiver.gate.launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    if not reason.strip():
        raise WaiverRefused(400, "say why the waiver is revoked")
    with transaction.atomic():
        waiver = Waiver.objects.select_for_update().select_related("gate__launch").get(pk=waiver.pk)
        if not can_revoke_waiver(user, waiver):
            raise WaiverRefused(
                403, "only its requester, its approver or a launch admin may revoke a waiver"
            )
        if waiver.state(now) not in (WaiverState.PENDING, WaiverState.ACTIVE):
            raise WaiverRefused(409, f"this waiver is {waiver.state(now)}: nothing to revoke")
        name = user.get_full_name() or user.get_username()
        Waiver.objects.filter(pk=waiver.pk).update(revoked_at=now, revoked_by_name=name,
                                                   revoke_reason=reason.strip())  # fmt: skip
        update_covering_waiver(gate_id=waiver.gate_id)
        waiver.revoked_at, waiver.revoked_by_name = now, name
        waiver.revoke_reason = reason.strip()
        _waiver_event(waiver, "waiver.revoked", actor=user, reason=waiver.revoke_reason)
        _invalidate_approvals_after_waiver(waiver.gate, now, actor=user)
    return waiver


def _waiver_took_effect(waiver: Waiver, user, now) -> None:
    """A waiver now counts: whoever asked for or approved it produced the gate's evidence, so
    their own approvals over it no longer hold (separation of duties)."""
    for person in {waiver.requested_by, waiver.granted_by} - {None}:
        invalidate_conflicts(gate=waiver.gate, user=person, what="a waiver", now=now, actor=user)


def _invalidate_approvals_after_waiver(gate: Gate, now, *, actor) -> None:
    gate = Gate.objects.select_related("launch").get(pk=gate.pk)
    status, reason = gate.current_status(now)
    if status not in (GateStatus.PASSING, GateStatus.WAIVED):
        invalidate_for_gate(gate=gate, status=status, reason=reason, now=now, actor=actor)


def _waiver_event(waiver: Waiver, action: str, *, actor, **data) -> None:
    record(actor=actor, action=action, launch_slug=waiver.gate.launch.slug, obj_type="gate",
           obj_key=waiver.gate.key, data={"waiver": waiver.pk, **data})  # fmt: skip


def warn_expiring_waivers(*, now=None, within=timedelta(hours=48)) -> int:
    """Email the requester and the program managers once about each active waiver that ends
    within `within`; the conditional UPDATE makes sure a waiver is warned about once."""
    now = now or timezone.now()
    soon = Waiver.objects.active(now).filter(expires_at__lte=now + within,
                                             expiry_warned_at__isnull=True,
                                             gate__launch__closed_at__isnull=True)  # fmt: skip
    sent = 0
    for waiver in soon.select_related("gate__launch", "requested_by"):
        if Waiver.objects.filter(pk=waiver.pk, expiry_warned_at__isnull=True).update(
            expiry_warned_at=now
        ):
            _mail_expiry(waiver)
            sent += 1
    return sent


def _mail_expiry(waiver: Waiver) -> None:
    launch = waiver.gate.launch
    pms = Assignment.objects.current().filter(launch=launch, duty=Duty.PROGRAM_MANAGER)
    to = {a.user.email for a in pms.select_related("user") if a.user.email}
    if waiver.requested_by and waiver.requested_by.email:
        to.add(waiver.requested_by.email)
    if to:
        send_mail(
            f"[{launch.slug}] The waiver of {waiver.gate.name} ends {waiver.expires_at:%Y-%m-%d}",
            f"The waiver of {waiver.gate.name} ({waiver.gate.key}) on {launch} ends on "
            f"{waiver.expires_at:%Y-%m-%d %H:%M} UTC (T-0 is {launch.target_t0:%Y-%m-%d %H:%M} "
            f"UTC). Reason given: {waiver.reason}\n\nAfter it ends the gate counts as it "
            "stands, and every approval relying on the waiver is invalidated.",
            settings.DEFAULT_FROM_EMAIL, sorted(to), fail_silently=True,
        )  # fmt: skip
