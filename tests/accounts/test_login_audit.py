"""Sign-ins and failed sign-ins are in the audit log: who, or what was typed, and from where."""

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory

from apps.accounts.signals import IDENTIFIER_MAX
from apps.audit.models import AuditEvent
from apps.audit.services import verify
from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_failed_sign_in_records_what_was_typed_and_from_where(clean_cache, alice):
    Client(REMOTE_ADDR="198.51.100.7").post(
        "/accounts/login/", {"login": "alice@example.com", "password": "hunter2"}
    )

    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.actor is None and event.actor_name == "anonymous"
    assert event.data == {"identifier": "alice@example.com", "ip": "198.51.100.7"}
    assert "hunter2" not in str(event.data)
    assert verify() is None


def test_a_long_identifier_is_truncated():
    request = RequestFactory().post("/accounts/login/", REMOTE_ADDR="198.51.100.8")
    assert authenticate(request, email="x" * 5000 + "@example.com", password="guess") is None

    event = AuditEvent.objects.get(action="auth.login_failed")
    assert event.data["identifier"] == "x" * IDENTIFIER_MAX
    assert event.object_key == "x" * IDENTIFIER_MAX


def test_a_sign_in_records_the_user_and_address(clean_cache, alice):
    response = Client(REMOTE_ADDR="198.51.100.9").post(
        "/accounts/login/", {"login": "alice@example.com", "password": PASSWORD}
    )

    assert response.status_code == 302
    event = AuditEvent.objects.get(action="auth.login")
    assert event.actor == alice and event.actor_name == "alice"
    assert event.data == {"ip": "198.51.100.9"}
    assert not AuditEvent.objects.filter(action="auth.login_failed").exists()
