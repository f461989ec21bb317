"""What a newcomer reads first: a sign-in page that does not invite sign-ups (they are closed)
and an admin whose names read right."""

import pytest

pytestmark = pytest.mark.django_db


def test_the_sign_in_page_does_not_invite_people_to_sign_up(client):
    page = client.get("/accounts/login/").content.decode()
    assert "sign up" not in page.lower() and "/accounts/signup/" not in page
    assert "by invitation" in page


def test_the_admin_names_read_right(admin_client):
    page = admin_client.get("/admin/").content.decode()
    for name in ("Launches", "Webhook deliveries", "API tokens"):
        assert name in page, name
    for wrong in ("Launchs", "Webhook deliverys", "Sign offs"):
        assert wrong not in page, wrong
