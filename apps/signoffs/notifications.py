"""The emails of signing: requests, reminders, escalations, and news of a sign-off (recorded,
rejected, invalidated). Plain text and HTML, through Django's mail backend; callers send them
after commit, outside any transaction."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from apps.signoffs.models import (
    Assignment,
    Decision,
    Duty,
    NoticeKind,
    SignatureRequest,
    SignOff,
)
from portal.links import portal_url

SUBJECTS = {
    NoticeKind.REQUEST: "Please sign off as {role} by {due}",
    NoticeKind.REMINDER: "Reminder: the {role} sign-off is due {due}",
    NoticeKind.OVERDUE: "Overdue: the {role} sign-off was due {due}",
    NoticeKind.ESCALATION: "Escalation: {role} has not signed, due {due}",
}
# A sign-off as news: what it now is, not the verb the signer chose.
DECISION_WORDS = {
    Decision.APPROVE: "Approved",
    Decision.APPROVE_WITH_CONDITIONS: "Approved with conditions",
    Decision.REJECT: "Rejected",
}


def send(*, subject: str, to: list[str], template: str, context: dict) -> None:
    """One email in plain text and HTML from `template`.txt/.html."""
    text = render_to_string(f"{template}.txt", context)
    message = EmailMultiAlternatives(subject, text, settings.DEFAULT_FROM_EMAIL, to)
    message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    message.send(fail_silently=True)


def send_request_notice(*, request: SignatureRequest, user, kind: str, base_url: str = "") -> None:
    """Tell one person about a request: asked (request), reminded (reminder, overdue), or told
    that it is late (escalation: the program managers and the decision role, who may not sign
    it, get the matrix; the signers get their sign page)."""
    launch, role = request.launch, request.role
    if kind == NoticeKind.ESCALATION:
        path = reverse("launches:signoffs", kwargs={"slug": launch.slug})
    else:
        path = reverse("launches:sign", kwargs={"slug": launch.slug, "role": role.key})
    due = f"{request.due_at:%Y-%m-%d %H:%M} UTC"
    context = {
        "launch": launch, "role": role, "request": request, "kind": kind, "due": due,
        "name": user.get_full_name() or user.get_username(),
        "link": portal_url(path, base_url),
        "settings_link": portal_url(
            reverse("launches:notifications", kwargs={"slug": launch.slug}), base_url
        ),
    }  # fmt: skip
    subject = f"[{launch.slug}] " + SUBJECTS[kind].format(role=role.name, due=due)
    send(subject=subject, to=[user.email], template="signoffs/emails/request", context=context)


def send_signoff_recorded(signoff_id: int) -> None:
    """A sign-off was recorded (approved, with conditions, or rejected): tell the program
    managers and the signer."""
    _send_signoff_news(signoff_id, invalidated=False)


def send_invalidated(signoff_id: int) -> None:
    """An approval no longer holds: tell the program managers and the signer."""
    _send_signoff_news(signoff_id, invalidated=True)


def _send_signoff_news(signoff_id: int, *, invalidated: bool) -> None:
    signoff = SignOff.objects.select_related("launch", "role", "user").get(pk=signoff_id)
    to = signoff_recipients(signoff)
    if not to:
        return
    decision = "Invalidated" if invalidated else DECISION_WORDS[signoff.decision]
    path = reverse("launches:signoffs", kwargs={"slug": signoff.launch.slug})
    context = {
        "launch": signoff.launch, "role": signoff.role, "signoff": signoff,
        "decision": decision, "invalidated": invalidated, "link": portal_url(path),
    }  # fmt: skip
    subject = f"[{signoff.launch.slug}] {signoff.role.name}: {decision}"
    send(subject=subject, to=to, template="signoffs/emails/signoff", context=context)


def signoff_recipients(signoff: SignOff) -> list[str]:
    """The current program managers of the launch and the signer, by address."""
    pms = Assignment.objects.current().filter(launch_id=signoff.launch_id,
                                              duty=Duty.PROGRAM_MANAGER)  # fmt: skip
    to = {a.user.email for a in pms.select_related("user") if a.user.email}
    if signoff.user and signoff.user.email:
        to.add(signoff.user.email)
    return sorted(to)
