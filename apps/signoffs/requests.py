"""Sign-off requests: a program manager asks roles to sign by a date; the signers are emailed,
reminded before the date and each day after it, and the request is escalated once when late.

Imports models, audit and notifications only: services.py calls fulfil_requests() when a role
is signed, so this module must not import it back.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.audit.services import record
from apps.launches.models import Launch
from apps.signoffs.models import (
    Assignment,
    Duty,
    NoticeKind,
    NotificationSetting,
    RequestNotice,
    Role,
    SignatureRequest,
    SignOff,
)
from apps.signoffs.notifications import send_request_notice
from apps.signoffs.permissions import can_request_signoff

# A request asked today with a near due date is not followed by a reminder the same day.
QUIET_AFTER_REQUEST = timedelta(days=1)


class RequestRefused(Exception):
    """Refused, with the HTTP status the page answers: 400 bad input, 403 not yours."""

    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


def request_signoff(*, launch: Launch, roles: list[Role], user, due_at: datetime, message: str,
                    base_url: str = "", now=None) -> list[SignatureRequest]:  # fmt: skip
    """Ask each of `roles` to sign by `due_at`; audited as `signoff.requested`, one per role.

    A role has one open request at a time: a new one cancels the open one it replaces. The
    role's current holders and delegates are emailed after commit, once each (RequestNotice).
    `base_url`: the portal's origin as the requester reached it, for the links.
    """
    launch.refuse_if_closed()  # a closed launch is read-only
    now = now or timezone.now()
    _check_request(launch, roles, user, due_at, now)
    made = []
    with transaction.atomic():
        for role in roles:
            # Under a lock on the role, so two requests at once cannot leave two open.
            Role.objects.select_for_update().only("pk").get(pk=role.pk)
            made.append(_replace_request(launch, role, user, due_at, message.strip(), now))
    ids = [r.pk for r in made]
    transaction.on_commit(lambda: send_requests(request_ids=ids, base_url=base_url, now=now))
    return made


def _check_request(launch, roles, user, due_at, now) -> None:
    if not can_request_signoff(user, launch):
        raise RequestRefused(403, "only the program manager asks roles to sign")
    if not roles:
        raise RequestRefused(400, "choose a role, or all required roles")
    if any(r.launch_id != launch.pk or r.retired_at for r in roles):
        raise RequestRefused(400, "that role is not a current role of this launch")
    if due_at <= now:
        raise RequestRefused(400, "the due date must be in the future")


def _replace_request(launch, role, user, due_at, message, now) -> SignatureRequest:
    replaced = list(SignatureRequest.objects.open().filter(role=role).values_list("pk", flat=True))
    SignatureRequest.objects.filter(pk__in=replaced).update(cancelled_at=now)
    made = SignatureRequest.objects.create(
        launch=launch, role=role, requested_by=user, message=message,
        requested_by_name=user.get_full_name() or user.get_username(), due_at=due_at,
        created_at=now,
    )  # fmt: skip
    record(actor=user, action="signoff.requested", launch_slug=launch.slug,
           obj_type="role", obj_key=role.key,
           data={"request": made.pk, "due_at": due_at.isoformat(), "message": message,
                 "replaces": replaced})  # fmt: skip
    return made


def send_requests(*, request_ids: list[int], base_url: str = "", now=None) -> int:
    """Email each request to its role's current holders and delegates, once each."""
    now = now or timezone.now()
    sent = 0
    for request in SignatureRequest.objects.filter(pk__in=request_ids).select_related(
        "launch", "role"
    ):
        for user in signers(request.role, now):
            sent += notify(request, user, NoticeKind.REQUEST, now, base_url=base_url)
    return sent


def signers(role: Role, now) -> list:
    """The people who may sign `role` at `now`: its current holders and delegates."""
    current = Assignment.objects.current(now).filter(launch_id=role.launch_id, duty=Duty.SIGNER,
                                                     role=role)  # fmt: skip
    return _people(current)


def notify(request: SignatureRequest, user, kind: str, now, *, base_url: str = "") -> int:
    """Send one notice, claimed first: the database refuses a second request or escalation
    notice, and a second reminder the same day, so of two beat processes only one sends.
    1 if sent, else 0."""
    if not user.email:
        return 0
    try:
        with transaction.atomic():
            RequestNotice.objects.create(request=request, user=user, kind=kind, sent_at=now,
                                         sent_on=timezone.localdate(now))  # fmt: skip
    except IntegrityError:
        return 0
    send_request_notice(request=request, user=user, kind=kind, base_url=base_url)
    return 1


def fulfil_requests(*, role: Role, signoff: SignOff, now) -> int:
    """The role was signed (approved, with conditions, or rejected): its open requests are
    answered. Runs inside the transaction of the sign-off."""
    return (
        SignatureRequest.objects.open()
        .filter(role=role)
        .update(fulfilled_at=now, fulfilled_by=signoff)
    )


# --- reminders and escalation (beat) ------------------------------------------------------------


def remind(*, now=None) -> int:
    """Remind the signers of each open request from the lead time before its due date, then
    each day once overdue (at most one a day per person and request, not to those who turned
    reminders off for the launch); escalate it once to the program managers and the decision
    role after the escalation delay. No reminder before the due date within a day of the request
    itself. Returns how many emails were sent."""
    now = now or timezone.now()
    lead = timedelta(hours=settings.SIGNOFF_REMINDER_LEAD_HOURS)
    late = timedelta(hours=settings.SIGNOFF_ESCALATION_HOURS)
    sent = 0
    due_soon = SignatureRequest.objects.open().filter(due_at__lte=now + lead,
                                                      launch__closed_at__isnull=True)  # fmt: skip
    for request in due_soon.select_related("launch", "role"):
        sent += remind_signers(request, now)
        if now > request.due_at + late:
            sent += escalate(request, now)
    return sent


def remind_signers(request: SignatureRequest, now) -> int:
    """Today's reminder (before the due date) or overdue reminder to each signer of the request
    who has not turned reminders off for the launch."""
    overdue = now > request.due_at
    if not overdue and now - request.created_at < QUIET_AFTER_REQUEST:
        return 0
    kind = NoticeKind.OVERDUE if overdue else NoticeKind.REMINDER
    muted = set(NotificationSetting.objects.filter(launch_id=request.launch_id, reminders_off=True)
                .values_list("user_id", flat=True))  # fmt: skip
    people = [u for u in signers(request.role, now) if u.pk not in muted]
    return sum(notify(request, user, kind, now) for user in people)


def escalate(request: SignatureRequest, now) -> int:
    """Tell the program managers and the holders of the launch's decision role that the request
    is late: once, claimed by a conditional UPDATE of `escalated_at` and audited with it."""
    with transaction.atomic():
        unclaimed = SignatureRequest.objects.filter(pk=request.pk, escalated_at__isnull=True)
        if not unclaimed.update(escalated_at=now):
            return 0
        record(actor="system", action="signoff.escalated", launch_slug=request.launch.slug,
               obj_type="role", obj_key=request.role.key,
               data={"request": request.pk, "due_at": request.due_at.isoformat()})  # fmt: skip
    return sum(
        notify(request, user, NoticeKind.ESCALATION, now) for user in escalated_to(request, now)
    )


def escalated_to(request: SignatureRequest, now) -> list:
    """The launch's current program managers and holders (or delegates) of its decision role."""
    launch = request.launch
    current = Assignment.objects.current(now).filter(launch=launch)
    pms = current.filter(duty=Duty.PROGRAM_MANAGER)
    deciders = current.filter(duty=Duty.SIGNER, role__key=launch.decision_role,
                              role__retired_at__isnull=True)  # fmt: skip
    return _people(pms | deciders if launch.decision_role else pms)


def _people(assignments) -> list:
    """The active people of `assignments`, each once."""
    people = {a.user_id: a.user for a in assignments.select_related("user") if a.user.is_active}
    return list(people.values())


# --- a person's reminders -----------------------------------------------------------------------


def set_reminders(*, launch: Launch, user, off: bool) -> NotificationSetting:
    """Turn `user`'s reminders for `launch` off or on (requests and invalidations still arrive);
    audited as `notifications.changed`."""
    launch.refuse_if_closed()  # a closed launch is read-only
    with transaction.atomic():
        setting, _ = NotificationSetting.objects.update_or_create(
            user=user, launch=launch, defaults={"reminders_off": off}
        )
        record(actor=user, action="notifications.changed", launch_slug=launch.slug,
               obj_type="user", obj_key=user.email or user.get_username(),
               data={"reminders_off": off})  # fmt: skip
    return setting


def reminders_off(*, launch: Launch, user) -> bool:
    return NotificationSetting.objects.filter(launch=launch, user=user, reminders_off=True).exists()
