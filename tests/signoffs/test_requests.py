"""Requests, reminders and escalation: pat (the program manager) asks vera (VP Engineering, also
the decision role) and sam (SRE Lead) to sign by a date; nora stands in for vera for a while.
The clock is moved by passing `now=`."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.signoffs.models import (
    Assignment,
    Duty,
    NoticeKind,
    RequestNotice,
    Role,
    SignatureRequest,
    SignOff,
)
from apps.signoffs.requests import remind, request_signoff, send_requests, set_reminders
from apps.signoffs.services import sign_off
from apps.signoffs.snapshot import take_snapshot
from tests.signoffs.conftest import read

pytestmark = pytest.mark.django_db
MATRIX = "/launches/atlas/signoffs/"
# Today 09:00 UTC: a few hours either way stay on the same day.
T0 = timezone.now().replace(hour=9, minute=0, second=0, microsecond=0)
DUE = T0 + timedelta(days=3)


@pytest.fixture
def ask(people, launch, django_capture_on_commit_callbacks):
    """pat asks a role (by key) to sign by DUE; the request emails leave on commit."""

    def ask(key: str, *, due=DUE, now=T0, message="Please review before the CAB."):
        role = Role.objects.get(key=key)
        with django_capture_on_commit_callbacks(execute=True):
            (made,) = request_signoff(launch=launch, roles=[role], user=people["pat"],
                                      due_at=due, message=message,
                                      base_url="https://portal.example/", now=now)  # fmt: skip
        return made

    return ask


@pytest.fixture
def nora_stands_in_for_vera(people, launch):
    Assignment.objects.create(
        launch=launch, user=people["nora"], duty=Duty.SIGNER,
        role=Role.objects.get(key="vp-engineering"), delegate_of=people["vera"],
        valid_until=T0 + timedelta(days=10), reason="vera on leave",
    )  # fmt: skip


def _to(messages) -> list[str]:
    return sorted(address for m in messages for address in m.to)


def _html(message) -> str:
    ((html, mimetype),) = message.alternatives
    assert mimetype == "text/html"
    return html


def _sign(user, key: str, decision: str, comment: str = "", now=None) -> SignOff:
    role = Role.objects.get(key=key)
    now = now or timezone.now()
    return sign_off(role=role, user=user, decision=decision, comment=comment, conditions=[],
                    digest_seen=take_snapshot(role, now).digest, previous_id=None,
                    now=now)  # fmt: skip


# --- requests -----------------------------------------------------------------------------------


def test_a_request_emails_the_holder_and_a_current_delegate_once_each(ask, nora_stands_in_for_vera):
    made = ask("vp-engineering")

    assert _to(mail.outbox) == ["nora@example.com", "vera@example.com"]
    message = mail.outbox[0]
    assert message.subject.startswith("[atlas] Please sign off as VP Engineering by ")
    link = "https://portal.example/launches/atlas/signoffs/vp-engineering/sign/"
    for body in (message.body, _html(message)):
        assert "Atlas 2.0.0" in body and "VP Engineering" in body and link in body
        assert f"{DUE:%Y-%m-%d %H:%M} UTC" in body and "Please review before the CAB." in body
    notices = RequestNotice.objects.filter(request=made, kind=NoticeKind.REQUEST)
    assert notices.count() == 2
    assert send_requests(request_ids=[made.pk]) == 0  # sent once, whoever tries again
    assert len(mail.outbox) == 2


def test_a_request_is_audited_and_a_new_one_replaces_the_open_one(ask, people):
    first = ask("sre-lead")
    second = ask("sre-lead", due=DUE + timedelta(days=1), message="New date.")

    first.refresh_from_db()
    assert first.cancelled_at == T0 and second.cancelled_at is None
    assert list(SignatureRequest.objects.open()) == [second]
    event = AuditEvent.objects.filter(action="signoff.requested").order_by("-sequence").first()
    assert (event.actor_name, event.object_key) == ("Pat", "sre-lead")
    assert event.data["request"] == second.pk and event.data["replaces"] == [first.pk]
    assert event.data["message"] == "New date."


def test_a_due_date_in_the_past_is_refused(people, launch):
    from apps.signoffs.requests import RequestRefused

    with pytest.raises(RequestRefused) as refused:
        request_signoff(launch=launch, roles=list(launch.roles.all()), user=people["pat"],
                        due_at=T0 - timedelta(hours=1), message="", now=T0)  # fmt: skip
    assert refused.value.status == 400 and not SignatureRequest.objects.exists()


# --- reminders and escalation -------------------------------------------------------------------


def test_a_reminder_arrives_at_the_lead_time_not_before_and_once_a_day(ask):
    ask("vp-engineering")  # due in three days; the lead time is 48 hours
    mail.outbox.clear()

    assert remind(now=DUE - timedelta(hours=48, minutes=1)) == 0
    assert remind(now=DUE - timedelta(hours=48)) == 1
    assert remind(now=DUE - timedelta(hours=44)) == 0  # the same day
    (message,) = mail.outbox
    assert message.to == ["vera@example.com"]
    assert (
        message.subject
        == f"[atlas] Reminder: the VP Engineering sign-off is due {DUE:%Y-%m-%d %H:%M} UTC"
    )
    assert "/launches/atlas/signoffs/vp-engineering/sign/" in message.body
    assert "A reminder" in _html(message)
    assert remind(now=DUE - timedelta(hours=24)) == 1  # the next day


def test_an_overdue_reminder_once_a_day(ask):
    ask("vp-engineering")
    mail.outbox.clear()

    assert remind(now=DUE + timedelta(hours=1)) == 1
    assert remind(now=DUE + timedelta(hours=2)) == 0
    (message,) = mail.outbox
    assert message.subject.startswith("[atlas] Overdue: the VP Engineering sign-off was due")
    assert RequestNotice.objects.filter(kind=NoticeKind.OVERDUE).count() == 1


def test_a_late_request_is_escalated_once_to_the_pm_and_the_decision_role(ask, people):
    made = ask("sre-lead")
    mail.outbox.clear()

    assert remind(now=DUE + timedelta(hours=24)) == 1  # overdue to sam; not yet escalated
    mail.outbox.clear()
    later = DUE + timedelta(hours=25)
    assert remind(now=later) == 2  # sam's overdue reminder was today's already
    assert _to(mail.outbox) == ["pat@example.com", "vera@example.com"]
    message = mail.outbox[0]
    assert message.subject.startswith("[atlas] Escalation: SRE Lead has not signed, due ")
    assert "/launches/atlas/signoffs/" in message.body
    made.refresh_from_db()
    assert made.escalated_at == later

    assert remind(now=later + timedelta(hours=1)) == 0
    assert remind(now=later + timedelta(days=1)) == 1  # sam's overdue reminder only
    assert mail.outbox[-1].to == ["sam@example.com"]
    assert AuditEvent.objects.filter(action="signoff.escalated", object_key="sre-lead").count() == 1


def test_reminders_off_stops_reminders_but_not_requests(client, people, launch, ask):
    client.force_login(people["vera"])
    response = client.post("/launches/atlas/notifications/", {"reminders": "off"})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="notifications.changed")
    assert (event.actor_name, event.data) == ("Vera", {"reminders_off": True})
    assert (
        "Reminders are <strong>off</strong>"
        in client.get("/launches/atlas/notifications/").content.decode()
    )

    ask("vp-engineering")
    assert _to(mail.outbox) == ["vera@example.com"]  # the request arrives
    assert remind(now=DUE - timedelta(hours=24)) == 0
    assert remind(now=DUE + timedelta(hours=1)) == 0
    set_reminders(launch=launch, user=people["vera"], off=False)
    assert remind(now=DUE + timedelta(hours=2)) == 1


def test_signing_fulfils_the_request_and_stops_reminders(
    ask, people, all_passing, django_capture_on_commit_callbacks
):
    now = timezone.now()
    made = ask("vp-engineering", now=now, due=now + timedelta(days=1))
    with django_capture_on_commit_callbacks(execute=True):
        signoff = _sign(people["vera"], "vp-engineering", "approve")

    made.refresh_from_db()
    assert made.fulfilled_at is not None and made.fulfilled_by == signoff
    mail.outbox.clear()
    assert remind(now=now + timedelta(days=2, hours=1)) == 0
    assert not mail.outbox


# --- news of sign-offs --------------------------------------------------------------------------


def test_recording_a_sign_off_emails_the_pm_and_the_signer(
    people, all_passing, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _sign(people["vera"], "vp-engineering", "approve")

    (message,) = mail.outbox
    assert message.to == ["pat@example.com", "vera@example.com"]
    assert message.subject == "[atlas] VP Engineering: Approved"
    for body in (message.body, _html(message)):
        assert "Atlas 2.0.0" in body and "Approved" in body and "/launches/atlas/signoffs/" in body


def test_a_rejection_says_rejected(people, launch, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _sign(people["sam"], "sre-lead", "reject", comment="runbooks missing")

    (message,) = mail.outbox
    assert message.to == ["pat@example.com", "sam@example.com"]
    assert message.subject == "[atlas] SRE Lead: Rejected"
    assert "runbooks missing" in message.body and "Rejected" in _html(message)


def test_an_invalidation_says_invalidated_in_text_and_html(
    people, all_passing, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _sign(people["vera"], "vp-engineering", "approve")
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        read("coverage", "60")

    (message,) = mail.outbox
    assert message.subject == "[atlas] VP Engineering: Invalidated"
    assert "gate coverage is failing" in message.body and "Invalidated" in _html(message)


# --- pages --------------------------------------------------------------------------------------


def test_the_pm_requests_all_required_roles_from_the_matrix(
    client, people, django_capture_on_commit_callbacks
):
    client.force_login(people["pat"])
    assert "Ask for sign-off" in client.get(MATRIX).content.decode()
    due = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"{MATRIX}request/", {"role": "all-required", "due_at": due,
                                                     "message": "Go/No-Go on Friday"})  # fmt: skip
    assert response.status_code == 302 and response.url == MATRIX
    assert sorted(r.role.key for r in SignatureRequest.objects.open()) == [
        "sre-lead", "vp-engineering",
    ]  # fmt: skip
    assert _to(mail.outbox) == ["sam@example.com", "vera@example.com"]
    (to_sam,) = [m for m in mail.outbox if m.to == ["sam@example.com"]]
    assert "http://testserver/launches/atlas/signoffs/sre-lead/sign/" in to_sam.body
    page = client.get(MATRIX).content.decode()
    assert "Go/No-Go on Friday" in page and "Sign-off requests" in page


def test_a_past_due_date_from_the_form_sends_nothing(client, people):
    client.force_login(people["pat"])
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"{MATRIX}request/", {"role": "sre-lead", "due_at": past},
                           follow=True)  # fmt: skip
    assert "the due date must be in the future" in response.content.decode()
    assert not SignatureRequest.objects.exists() and not mail.outbox


def test_an_overdue_request_shows_in_red_on_the_matrix(client, people, ask):
    ask("sre-lead", now=timezone.now() - timedelta(days=2), due=timezone.now() - timedelta(hours=1))
    client.force_login(people["sam"])
    page = client.get(MATRIX).content.decode()
    assert 'class="overdue"' in page and "(overdue)" in page
    assert "Ask for sign-off" not in page  # sam is no program manager


def test_someone_who_is_not_a_pm_cannot_request(client, people):
    client.force_login(people["sam"])
    due = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"{MATRIX}request/", {"role": "sre-lead", "due_at": due})
    assert response.status_code == 403
    assert not SignatureRequest.objects.exists()
    assert not AuditEvent.objects.filter(action="signoff.requested").exists()
