"""Signing, invalidation, readiness and the Go/No-Go decision."""

from dataclasses import dataclass
from datetime import datetime

from allauth.mfa.models import Authenticator
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from apps.accounts.services import Invitation, awaits_acceptance, invite_user
from apps.audit.services import record
from apps.launches.models import Launch
from apps.signoffs.models import (
    APPROVALS,
    Assignment,
    Condition,
    Decision,
    DecisionMeeting,
    Duty,
    GoNoGo,
    LaunchDecision,
    Role,
    SignOff,
)
from apps.signoffs.notifications import send_invalidated, send_signoff_recorded
from apps.signoffs.permissions import can_prepare_decision, decision_assignment
from apps.signoffs.readiness import readiness
from apps.signoffs.requests import fulfil_requests
from apps.signoffs.snapshot import take_snapshot

EVIDENCE_CHANGED = "the evidence changed since you opened this page"
MFA_REQUIRED = (
    "this launch requires an authenticator app for signing: set one up, then sign with its code"
)


class SigningRefused(Exception):
    """Refused, with the HTTP status the page answers: 400 bad input, 403 not yours, 409 stale."""

    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


@dataclass(frozen=True)
class ConditionInput:
    text: str
    owner: str
    due_at: datetime


def signing_assignment(user, role: Role, now) -> Assignment | None:
    """The user's current holding of the role: as its holder, or as a delegate in its window."""
    if not user.is_authenticated or not user.is_active:
        return None
    return (
        Assignment.objects.current(now)
        .filter(user=user, launch_id=role.launch_id, duty=Duty.SIGNER, role=role)
        .select_related("delegate_of")
        .first()
    )


def needs_authenticator(*, user, launch: Launch) -> bool:
    """The launch asks its signers for a second factor (`signers_need_mfa`) and `user` has no
    authenticator app (TOTP) yet: they may not sign or decide until they enrol one."""
    if not launch.signers_need_mfa:
        return False
    return not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists()


def meaning_of(*, name: str, role: Role, decision: str, digest: str) -> str:
    verb = {
        Decision.APPROVE: "approve",
        Decision.APPROVE_WITH_CONDITIONS: "approve, with the conditions listed,",
        Decision.REJECT: "reject",
    }[Decision(decision)]
    scope = role.scope[:1].lower() + role.scope[1:]
    return (
        f"I, {name}, as {role.name}, {verb} the {scope} of {role.launch}"
        f" as shown in snapshot {digest}."
    )


def sign_off(
    *, role: Role, user, decision: str, comment: str, conditions: list[ConditionInput],
    digest_seen: str, previous_id: int | None, ip: str | None = None, user_agent: str = "",
    reauth_method: str = "", now=None,
) -> SignOff:  # fmt: skip
    """Record a signature over the role's scope exactly as the signer saw it.

    Refused when the user does not hold the role, when the role was signed or the evidence changed
    since the page was shown (409), or when an approval would cover a gate that is not passing
    or waived, or a waiver the signer granted. Runs under a lock on the role, so concurrent
    submissions for one role are serialised; the database keeps one active sign-off per role.
    """
    role.launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    assignment = signing_assignment(user, role, now)
    if assignment is None:
        raise SigningRefused(403, f"you do not hold the {role.name} role on this launch")
    if needs_authenticator(user=user, launch=role.launch):
        raise SigningRefused(403, MFA_REQUIRED)
    _check_input(decision, comment, conditions, now)
    with transaction.atomic():
        Role.objects.select_for_update().get(pk=role.pk)
        active = SignOff.objects.filter(role=role).active().first()
        if (active.pk if active else None) != previous_id:
            raise SigningRefused(409, f"{role.name} was signed since you opened this page")
        snapshot = take_snapshot(role, now)
        if snapshot.digest != digest_seen:
            raise SigningRefused(409, EVIDENCE_CHANGED)
        if decision in APPROVALS:
            _check_approvable(snapshot, user)
        signoff = _store(role, user, assignment, decision, comment, conditions, snapshot, now,
                         ip=ip, user_agent=user_agent, reauth_method=reauth_method,
                         active=active)  # fmt: skip
    transaction.on_commit(lambda: update_readiness(launch_id=role.launch_id))
    return signoff


def _check_input(decision: str, comment: str, conditions: list, now) -> None:
    if decision not in Decision.values:
        raise SigningRefused(400, f"unknown decision {decision!r}")
    if decision == Decision.REJECT and not comment.strip():
        raise SigningRefused(400, "a rejection needs a reason")
    if decision == Decision.APPROVE_WITH_CONDITIONS and not conditions:
        raise SigningRefused(400, "an approval with conditions needs at least one condition")
    if decision != Decision.APPROVE_WITH_CONDITIONS and conditions:
        raise SigningRefused(400, "only an approval with conditions carries conditions")
    for condition in conditions:
        if not condition.text.strip() or not condition.owner.strip():
            raise SigningRefused(400, "each condition needs a text and an owner")
        if condition.due_at <= now:
            raise SigningRefused(400, "each condition needs a due time in the future")


@dataclass(frozen=True)
class ApprovalBar:
    """One reason an approval of a snapshot is refused: the HTTP status and sentence of the
    refusal at submission, and the shorter sentence the sign page says before choosing."""

    status: int
    reason: str
    summary: str


def approval_bars(snapshot, produced: list) -> list[ApprovalBar]:
    """The one rule of who may approve a scope now: its blocking gates pass, and the signer
    produced none of its current evidence (`produced`: snapshot.produced_by(user))."""
    bars = []
    bad = snapshot.not_good()
    if bad:
        listed = ", ".join(f"{g.gate.key} ({g.status}: {g.reason})" for g in bad)
        keys = ", ".join(g.gate.key for g in bad)
        bars.append(ApprovalBar(
            409, f"cannot approve while blocking gates are not passing: {listed}",
            f"{len(bad)} blocking gate{'s' if len(bad) > 1 else ''} not passing: {keys}",
        ))  # fmt: skip
    if produced:
        message = conflict_message(produced)
        bars.append(ApprovalBar(403, message, message))
    return bars


def _check_approvable(snapshot, user) -> None:
    bars = approval_bars(snapshot, snapshot.produced_by(user))
    if bars:
        raise SigningRefused(bars[0].status, bars[0].reason)


def approval_refusals(snapshot, produced: list) -> list[str]:
    """Why an approval of this snapshot would be refused now, for the sign page to say before
    the signer chooses; empty when it would not."""
    return [bar.summary for bar in approval_bars(snapshot, produced)]


def conflict_message(produced: list) -> str:
    """Why someone may not approve a scope holding evidence they produced (the gates named)."""
    listed = ", ".join(g.gate.key for g in produced)
    return (
        f"you produced the current evidence of {listed} (an attestation, or a waiver you asked"
        " for or approved): another person must approve this scope; you may still reject it"
    )


def _store(role, user, assignment, decision, comment, conditions, snapshot, now, *, ip,
           user_agent, reauth_method, active) -> SignOff:  # fmt: skip
    name = user.get_full_name() or user.get_username()
    if active is not None:
        SignOff.objects.filter(pk=active.pk).update(superseded_at=now)
    signoff = SignOff.objects.create(
        launch_id=role.launch_id, role=role, user=user, printed_name=name,
        on_behalf_of=_name(assignment.delegate_of) if assignment.delegate_of_id else "",
        decision=decision, comment=comment.strip(), snapshot=snapshot.data,
        meaning=meaning_of(name=name, role=role, decision=decision, digest=snapshot.digest),
        digest=snapshot.digest, signed_at=now, ip=ip, user_agent=user_agent[:500],
        signer_email=user.email, reauth_method=reauth_method,
    )  # fmt: skip
    Condition.objects.bulk_create(
        Condition(signoff=signoff, text=c.text.strip(), owner=c.owner.strip(), due_at=c.due_at)
        for c in conditions
    )
    fulfil_requests(role=role, signoff=signoff, now=now)
    transaction.on_commit(lambda: send_signoff_recorded(signoff.pk))
    record(
        actor=user, action="signoff.signed", launch_slug=role.launch.slug, obj_type="role",
        obj_key=role.key,
        data={"signoff": signoff.pk, "decision": decision, "digest": snapshot.digest,
              "supersedes": active.pk if active else None, "on_behalf_of": signoff.on_behalf_of,
              "ip": ip, "signer_email": user.email, "reauth_method": reauth_method,
              "conditions": [c.text for c in conditions]},
    )  # fmt: skip
    return signoff


def _name(user) -> str:
    return user.get_full_name() or user.get_username()


# --- invalidation -------------------------------------------------------------------------------


def invalidate_for_gate(*, gate, status: str, reason: str, now, actor="system") -> list[SignOff]:
    """Invalidate the valid approvals whose scope holds `gate`, which left passing/waived.

    Runs inside the transaction of the change; the signers and PMs are emailed after commit.
    """
    approvals = [
        s
        for s in SignOff.objects.filter(launch_id=gate.launch_id).valid_approvals()
        .select_related("role", "user", "launch")
        if gate.category in s.role.categories
    ]  # fmt: skip
    why = f"gate {gate.key} is {status}" + (f": {reason}" if reason else "")
    for signoff in approvals:
        _invalidate(signoff, why=why, gate_key=gate.key, now=now, actor=actor)
    return approvals


def invalidate_conflicts(*, gate, user, what: str, now, actor) -> list[SignOff]:
    """`user` just produced `gate`'s evidence (`what`: an attestation, a waiver): their valid
    approvals of scopes holding the gate no longer hold (separation of duties). Runs inside the
    transaction of the change."""
    approvals = [
        s
        for s in SignOff.objects.filter(launch_id=gate.launch_id, user=user).valid_approvals()
        .select_related("role", "user", "launch")
        if gate.category in s.role.categories
    ]  # fmt: skip
    why = f"the signer produced the evidence of gate {gate.key} since ({what})"
    for signoff in approvals:
        _invalidate(signoff, why=why, gate_key=gate.key, now=now, actor=actor)
    return approvals


def _invalidate(signoff: SignOff, *, why: str, gate_key: str, now, actor) -> bool:
    """Invalidate once: a conditional UPDATE, so of two sweeps (beat on two hosts) only the one
    that changed the row audits and notifies. False when it was already invalidated."""
    still_valid = SignOff.objects.filter(pk=signoff.pk, invalidated_at__isnull=True)
    if not still_valid.update(
        invalidated_at=now, invalidated_reason=why, invalidated_gate=gate_key
    ):
        return False
    record(
        actor=actor, action="signoff.invalidated", launch_slug=signoff.launch.slug,
        obj_type="role", obj_key=signoff.role.key,
        data={"signoff": signoff.pk, "reason": why, "gate": gate_key},
    )  # fmt: skip
    transaction.on_commit(lambda: _notify_invalidated(signoff.pk))
    transaction.on_commit(lambda: update_readiness(launch_id=signoff.launch_id))
    return True


def _notify_invalidated(signoff_id: int) -> None:
    send_invalidated(signoff_id)


def sweep(*, now=None) -> int:
    """Invalidate approvals that time undid: stale evidence, expired waivers, lapsed conditions."""
    now = now or timezone.now()
    count = 0
    approvals = SignOff.objects.valid_approvals().filter(launch__closed_at__isnull=True)
    approvals = approvals.select_related("role", "launch", "user")  # a closed launch is read-only
    for signoff in approvals:
        why, gate_key = _still_holds(signoff, now)
        if why:
            with transaction.atomic():
                won = _invalidate(signoff, why=why, gate_key=gate_key, now=now, actor="system")
            count += won
    return count


def _still_holds(signoff: SignOff, now) -> tuple[str, str]:
    lapsed = signoff.conditions.filter(met_at__isnull=True, due_at__lte=now).first()
    if lapsed:
        return f"condition lapsed unmet: {lapsed.text}", ""
    for scoped in take_snapshot(signoff.role, now).not_good():
        return f"gate {scoped.gate.key} is {scoped.status}: {scoped.reason}", scoped.gate.key
    return "", ""


# --- readiness ----------------------------------------------------------------------------------


def update_readiness(*, launch_id: int, now=None) -> bool:
    """Recompute readiness under a lock on the launch; record the change once."""
    now = now or timezone.now()
    with transaction.atomic():
        launch = Launch.objects.select_for_update().get(pk=launch_id)
        if launch.is_closed:  # read-only: its readiness is what it was when it closed
            return launch.ready_at is not None
        ready = readiness(launch, now).ready
        if ready and launch.ready_at is None:
            Launch.objects.filter(pk=launch.pk).update(ready_at=now)
            record(actor="system", action="launch.ready", launch_slug=launch.slug,
                   obj_type="launch", obj_key=launch.slug)  # fmt: skip
        elif not ready and launch.ready_at is not None:
            Launch.objects.filter(pk=launch.pk).update(ready_at=None)
            record(actor="system", action="launch.not_ready", launch_slug=launch.slug,
                   obj_type="launch", obj_key=launch.slug)  # fmt: skip
    return ready


NO_DECISION_ROLE = (
    "the launch spec names no decision role (launch.decision.role): nobody may record the Go/No-Go"
)


def record_decision(*, launch: Launch, user, decision: str, attendees: str, notes: str,
                    override: bool = False, override_reason: str = "",
                    now=None) -> LaunchDecision:  # fmt: skip
    """The Go/No-Go, with the blockers and the portal's recommendation at that moment.

    Only a current holder (or delegate) of the launch's decision role records it (403); the
    caller has re-authenticated them. Go while the portal recommends NO-GO is refused (409)
    unless it is an override with a reason, stored and audited as one. Never edited: each new
    decision supersedes the previous one, under a lock on the launch so the chain cannot fork.
    """
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    assignment = check_decider(launch=launch, user=user, now=now)
    _check_decision_input(decision, attendees, override, override_reason)
    with transaction.atomic():
        Launch.objects.select_for_update().only("pk").get(pk=launch.pk)
        state = readiness(launch, now)
        overriding = decision == GoNoGo.GO and state.recommendation == GoNoGo.NO_GO
        if overriding and not override:
            raise SigningRefused(409, _go_refused(state))
        previous = LaunchDecision.objects.filter(launch=launch).current().first()
        made = LaunchDecision.objects.create(
            launch=launch, decision=decision, recommendation=state.recommendation,
            decided_by=user, decided_by_name=_name(user), role=launch.decision_role,
            on_behalf_of=_name(assignment.delegate_of) if assignment.delegate_of_id else "",
            attendees=attendees.strip(), notes=notes.strip(), blockers=state.as_dict(),
            override=overriding, override_reason=override_reason.strip() if overriding else "",
            supersedes=previous, decided_at=now,
        )  # fmt: skip
        record(actor=user, action="launch.decided", launch_slug=launch.slug, obj_type="launch",
               obj_key=launch.slug,
               data={"decision_id": made.pk, "decision": decision,
                     "recommendation": state.recommendation, "blockers": len(state.blockers),
                     "override": made.override, "override_reason": made.override_reason,
                     "supersedes": previous.pk if previous else None, "role": made.role,
                     "on_behalf_of": made.on_behalf_of})  # fmt: skip
    return made


def check_decider(*, launch: Launch, user, now) -> Assignment:
    """The user's holding of the launch's decision role, or SigningRefused(403) saying why not."""
    if not launch.decision_role:
        raise SigningRefused(403, NO_DECISION_ROLE)
    assignment = decision_assignment(user, launch, now)
    if assignment is None:
        raise SigningRefused(
            403, f"only a holder of the {launch.decision_role} role records the Go/No-Go"
        )
    if needs_authenticator(user=user, launch=launch):  # the decider signs too
        raise SigningRefused(403, MFA_REQUIRED)
    return assignment


def _check_decision_input(decision: str, attendees: str, override: bool, reason: str) -> None:
    if decision not in GoNoGo.values:
        raise SigningRefused(400, f"unknown decision {decision!r}")
    if not attendees.strip():
        raise SigningRefused(400, "list who attended the Go/No-Go meeting")
    if override and decision != GoNoGo.GO:
        raise SigningRefused(400, "only a Go overrides the portal's recommendation")
    if override and not reason.strip():
        raise SigningRefused(400, "a Go with override needs the reason for overriding")


def _go_refused(state) -> str:
    listed = ", ".join(f"{b.key} ({b.status}: {b.reason})" for b in state.blockers)
    return (
        f"the portal recommends NO-GO, blocked by {listed}: a Go needs "
        "“Go with override” and the reason"
    )


def prepare_decision(*, launch: Launch, user, attendees: str, notes: str,
                     now=None) -> DecisionMeeting:  # fmt: skip
    """The program manager (or the decider) writes down the Go/No-Go meeting, who attends and
    notes, which prefill the decider's form. Audited as `decision.prepared`."""
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    if not can_prepare_decision(user, launch):
        raise SigningRefused(403, "only the program manager or the decider prepares the meeting")
    with transaction.atomic():
        meeting, _ = DecisionMeeting.objects.update_or_create(
            launch=launch,
            defaults={"attendees": attendees.strip(), "notes": notes.strip(), "prepared_by": user,
                      "prepared_by_name": _name(user), "prepared_at": now},
        )  # fmt: skip
        record(actor=user, action="decision.prepared", launch_slug=launch.slug,
               obj_type="launch", obj_key=launch.slug,
               data={"attendees": meeting.attendees, "notes": meeting.notes})  # fmt: skip
    return meeting


# --- role assignments ---------------------------------------------------------------------------


class AssignmentRefused(Exception):
    """A role assignment that cannot be made; the message says why."""


@dataclass(frozen=True)
class AssignmentInput:
    duty: str
    role: Role | None = None
    delegate_of: object = None  # the user whose role a delegate holds for a while
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    reason: str = ""


def assign_role(*, launch: Launch, user, what: AssignmentInput, actor, now=None) -> Assignment:
    """Give `user` a duty on `launch` (a role, perhaps as a delegate within a window), audited.

    Must run inside the caller's transaction. A delegate needs a window end and a reason, and
    stands in for a current holder of the same role.
    """
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    _check_assignment(launch, what, now)
    assignment = Assignment.objects.create(
        launch=launch, user=user, duty=what.duty, role=what.role, delegate_of=what.delegate_of,
        valid_from=what.valid_from, valid_until=what.valid_until, reason=what.reason.strip(),
    )  # fmt: skip
    record(actor=actor, action="role.assigned", launch_slug=launch.slug, obj_type="assignment",
           obj_key=assignment.pk, data=_assignment_data(assignment))  # fmt: skip
    return assignment


def _check_assignment(launch: Launch, what: AssignmentInput, now) -> None:
    if what.duty not in Duty.values:
        raise AssignmentRefused(f"unknown duty {what.duty!r}")
    if (what.duty == Duty.SIGNER) != (what.role is not None):
        raise AssignmentRefused("a signer holds a role; other duties hold none")
    if what.role is not None and (what.role.launch_id != launch.pk or what.role.retired_at):
        raise AssignmentRefused("that role is not a current role of this launch")
    if what.valid_until is not None and what.valid_until <= max(what.valid_from or now, now):
        raise AssignmentRefused("the window must end in the future, after it starts")
    if what.delegate_of is None:
        return
    if what.valid_until is None or not what.reason.strip():
        raise AssignmentRefused("a delegate needs the end of the window and a reason")
    holds = Assignment.objects.current(now).filter(
        launch=launch, role=what.role, user=what.delegate_of, delegate_of__isnull=True
    )
    if what.role is None or not holds.exists():
        raise AssignmentRefused("a delegate stands in for a current holder of the same role")


def end_assignment(*, assignment: Assignment, actor, now=None) -> None:
    """End a duty now (the row stays, as history), audited. A launch's last admin stays."""
    assignment.launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    with transaction.atomic():
        if assignment.duty == Duty.ADMIN:
            # Locked, so that two admins ending each other at once cannot both succeed.
            admins = Assignment.objects.current(now).filter(launch_id=assignment.launch_id,
                                                           duty=Duty.ADMIN)  # fmt: skip
            if not list(admins.exclude(pk=assignment.pk).order_by("pk").select_for_update()):
                raise AssignmentRefused("a launch keeps at least one admin: add another first")
        ended = Assignment.objects.filter(pk=assignment.pk, revoked_at__isnull=True)
        if not ended.update(revoked_at=now):
            raise AssignmentRefused("that assignment has already ended")
        assignment.revoked_at = now
        record(actor=actor, action="role.ended", launch_slug=assignment.launch.slug,
               obj_type="assignment", obj_key=assignment.pk,
               data=_assignment_data(assignment))  # fmt: skip


def _assignment_data(assignment: Assignment) -> dict:
    return {
        "user": assignment.user.email or assignment.user.get_username(),
        "duty": assignment.duty, "role": assignment.role.key if assignment.role_id else "",
        "delegate_of": _name(assignment.delegate_of) if assignment.delegate_of_id else "",
        "valid_from": assignment.valid_from, "valid_until": assignment.valid_until,
        "reason": assignment.reason, "revoked_at": assignment.revoked_at,
    }  # fmt: skip


def add_person(*, launch: Launch, email: str, name: str, what: AssignmentInput, actor,
               base_url: str) -> tuple[Assignment, Invitation | None]:  # fmt: skip
    """Give the person with `email` a duty on `launch`, inviting them first when they are new
    (or have not accepted an earlier invitation: the link is sent again). One transaction."""
    launch.refuse_if_closed()  # a closed launch is read-only
    with transaction.atomic():
        user = get_user_model().objects.filter(email__iexact=email.strip()).first()
        invitation = None
        if user is None or awaits_acceptance(user):
            invitation = invite_user(email=email, name=name, invited_by=actor, base_url=base_url,
                                     launch_slug=launch.slug)  # fmt: skip
            user = invitation.user
        elif not user.is_active:
            raise AssignmentRefused(f"{user.email} is deactivated")
        return assign_role(launch=launch, user=user, what=what, actor=actor), invitation
