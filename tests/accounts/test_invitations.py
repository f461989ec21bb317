"""Invitations: no open sign-up. Staff invite by email; the emailed link sets a password once,
and expires; a password-reset token is not an invitation; the invitation never signs anyone in."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import default_token_generator
from django.core import mail
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.accounts.services import invitation_tokens
from apps.audit.models import AuditEvent
from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.django_db
INVITE = "/accounts/invite/"
NEW_PASSWORD = "a long and new passphrase 42"


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user("root", "root@example.com", PASSWORD,
                                                 is_staff=True)  # fmt: skip


def _invite(client, capture, email="ivy@example.com", name="Ivy Green"):
    with capture(execute=True):
        return client.post(INVITE, {"email": email, "name": name})


def _link(message) -> str:
    return re.search(r"http://testserver(/accounts/invite/\S+/)", message.body).group(1)


def test_staff_invite_someone_who_sets_a_password_and_then_signs_in(
    client, staff, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    assert _invite(client, django_capture_on_commit_callbacks).status_code == 302

    ivy = get_user_model().objects.get(email="ivy@example.com")
    assert (ivy.first_name, ivy.last_name, ivy.is_active) == ("Ivy", "Green", True)
    assert not ivy.has_usable_password()
    event = AuditEvent.objects.get(action="user.invited")
    assert event.actor == staff and event.data == {
        "email": "ivy@example.com", "created": True, "link_sent": True,
    }  # fmt: skip
    (message,) = mail.outbox
    assert message.to == ["ivy@example.com"] and "works once" in message.body

    client.logout()
    link = _link(message)
    mismatch = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": "other"})
    assert mismatch.status_code == 400  # the link still works after a mistake
    done = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done.url == "/accounts/login/"
    assert "_auth_user_id" not in client.session  # the link never signs anyone in
    assert client.get(link).status_code == 400

    signed = client.post("/accounts/login/", {"login": "ivy@example.com", "password": NEW_PASSWORD})
    assert signed.status_code == 302 and signed.url == "/launches/"


def test_inviting_again_sends_a_fresh_link_but_not_to_someone_with_a_password(
    client, staff, alice, django_capture_on_commit_callbacks
):
    client.force_login(staff)
    capture = django_capture_on_commit_callbacks
    _invite(client, capture)
    _invite(client, capture, email="IVY@example.com")
    _invite(client, capture, email="alice@example.com")

    assert get_user_model().objects.filter(email__iexact="ivy@example.com").count() == 1
    assert [m.to for m in mail.outbox] == [["ivy@example.com"], ["ivy@example.com"]]
    sent = AuditEvent.objects.filter(action="user.invited").order_by("sequence")
    assert [(e.object_key, e.data["link_sent"]) for e in sent] == [
        ("ivy@example.com", True), ("ivy@example.com", True), ("alice@example.com", False),
    ]  # fmt: skip


def test_a_deactivated_account_is_not_invited_again(
    client, staff, alice, django_capture_on_commit_callbacks
):
    alice.is_active = False
    alice.save()
    client.force_login(staff)
    response = _invite(client, django_capture_on_commit_callbacks, email="alice@example.com")
    assert response.status_code == 400 and b"deactivated" in response.content
    assert not mail.outbox and not AuditEvent.objects.filter(action="user.invited").exists()


@pytest.mark.parametrize("email", ["not an email", ""])
def test_a_bad_email_is_refused(client, staff, django_capture_on_commit_callbacks, email):
    client.force_login(staff)
    assert _invite(client, django_capture_on_commit_callbacks, email=email).status_code == 400
    assert get_user_model().objects.count() == 1 and not mail.outbox


def test_only_staff_invite_outside_a_launch(client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    assert client.get(INVITE).status_code == 403
    assert _invite(client, django_capture_on_commit_callbacks).status_code == 403
    assert not get_user_model().objects.filter(email="ivy@example.com").exists()
    client.logout()
    assert client.get(INVITE).status_code == 302  # to the sign-in page


def test_the_link_expires(client, staff, settings, monkeypatch, django_capture_on_commit_callbacks):
    client.force_login(staff)
    _invite(client, django_capture_on_commit_callbacks)
    client.logout()
    link = _link(mail.outbox[0])
    later = invitation_tokens._now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 60)
    monkeypatch.setattr(invitation_tokens, "_now", lambda: later)

    response = client.get(link)

    assert response.status_code == 400 and b"not valid" in response.content
    posted = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert posted.status_code == 400
    assert not get_user_model().objects.get(email="ivy@example.com").has_usable_password()


def test_a_password_reset_token_is_not_an_invitation(client, alice):
    uid = urlsafe_base64_encode(force_bytes(alice.pk))
    reset_token = default_token_generator.make_token(alice)
    assert client.get(f"/accounts/invite/{uid}/{reset_token}/").status_code == 400
    assert client.get(f"/accounts/invite/bm9ib2R5/{reset_token}/").status_code == 400


def test_there_is_no_open_sign_up(client):
    response = client.post("/accounts/signup/", {"email": "x@example.com",
                                                  "password1": NEW_PASSWORD,
                                                  "password2": NEW_PASSWORD})  # fmt: skip
    assert not get_user_model().objects.filter(email="x@example.com").exists()
    assert response.status_code == 200 and b"Sign Up Closed" in response.content
