"""A sign-in refused by the rate limit is audited, once per window: an attacker hammering a
locked account, or spraying accounts from a blocked address, does not flood the audit log."""

import time

import pytest
from django.test import Client

from apps.accounts import adapter
from apps.accounts.adapter import rate_limit_window
from apps.audit.models import AuditEvent
from apps.audit.services import verify
from tests.accounts.conftest import PASSWORD

TOO_MANY = b"Too many failed login attempts"
ATTACKER = "203.0.113.66"


@pytest.fixture
def carol(django_user_model):
    return django_user_model.objects.create_user("carol", "carol@example.com", PASSWORD)


def sign_in(email: str, password: str, address: str):
    return Client(REMOTE_ADDR=address).post(
        "/accounts/login/", {"login": email, "password": password}
    )


def lock(email: str, times: int = 2) -> None:
    for n in range(times):
        assert TOO_MANY not in sign_in(email, "guess", f"198.51.100.{n + 1}").content


def refusals():
    return list(AuditEvent.objects.filter(action="auth.login_rate_limited").order_by("sequence"))


@pytest.fixture
def strict(settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "3/m/ip,2/m/key"}


def test_the_first_refusal_is_audited_with_the_email_and_address(
    transactional_db, clean_cache, strict, alice
):
    lock("alice@example.com")
    for _ in range(5):
        assert TOO_MANY in sign_in("Alice@example.com", PASSWORD, ATTACKER).content

    (event,) = refusals()
    assert event.actor_name == "anonymous" and event.object_key == "alice@example.com"
    assert event.data == {"identifier": "alice@example.com", "ip": ATTACKER, "window_seconds": 60}
    assert PASSWORD not in str(event.data)
    assert verify() is None


def test_refusals_are_bounded_per_address_and_per_email(
    transactional_db, clean_cache, strict, alice, bob, carol
):
    lock("alice@example.com")
    assert TOO_MANY in sign_in("alice@example.com", "guess", ATTACKER).content
    assert TOO_MANY in sign_in("alice@example.com", "guess", "192.0.2.10").content  # same email
    for n in range(3):  # the attacker's address, now blocked, sprays other accounts
        sign_in(f"nobody{n}@example.com", "guess", ATTACKER)
    assert TOO_MANY in sign_in("bob@example.com", PASSWORD, ATTACKER).content
    assert len(refusals()) == 1

    lock("carol@example.com")  # another account, from other addresses
    assert TOO_MANY in sign_in("carol@example.com", "guess", "192.0.2.77").content
    assert [e.object_key for e in refusals()] == ["alice@example.com", "carol@example.com"]


def test_the_window_is_the_longest_login_failed_period(settings):
    settings.ACCOUNT_RATE_LIMITS = {"login_failed": "100/2s/ip,2/7s/key"}
    assert rate_limit_window() == 7


def test_a_new_window_records_again(transactional_db, clean_cache, strict, monkeypatch, alice):
    # The lockout lasts a minute; the audit window is made one second long to see it roll over.
    monkeypatch.setattr(adapter, "rate_limit_window", lambda: 1)
    lock("alice@example.com")
    assert TOO_MANY in sign_in("alice@example.com", "guess", ATTACKER).content
    assert TOO_MANY in sign_in("alice@example.com", "guess", ATTACKER).content
    assert len(refusals()) == 1

    time.sleep(2.1)  # the database cache keeps expiry times in whole seconds
    assert TOO_MANY in sign_in("alice@example.com", "guess", ATTACKER).content
    assert len(refusals()) == 2


def test_a_failed_attempt_that_is_not_refused_is_not_a_rate_limit_event(
    transactional_db, clean_cache, alice
):
    sign_in("alice@example.com", "guess", ATTACKER)
    assert refusals() == []
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 1
