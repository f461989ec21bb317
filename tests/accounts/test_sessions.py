"""Sessions: an anonymous visitor and a deactivated user's old session are sent to sign in."""

import pytest
from django.test import Client

from tests.accounts.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_an_anonymous_visitor_is_sent_to_the_login_page(client):
    response = client.get("/launches/")

    assert response.status_code == 302
    assert response.url == "/accounts/login/?next=/launches/"


def test_a_deactivated_users_old_session_is_refused(clean_cache, alice):
    client = Client()
    signed_in = client.post(
        "/accounts/login/", {"login": "alice@example.com", "password": PASSWORD}
    )
    assert signed_in.status_code == 302
    assert client.get("/launches/").status_code == 200

    alice.is_active = False
    alice.save(update_fields=["is_active"])

    response = client.get("/launches/")
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_a_deactivated_user_cannot_sign_in_again(clean_cache, alice):
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    client = Client()

    client.post("/accounts/login/", {"login": "alice@example.com", "password": PASSWORD})

    assert "_auth_user_id" not in client.session
    assert client.get("/launches/").status_code == 302
