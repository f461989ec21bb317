"""A password reset does not get around two-factor authentication (RELIABILITY case 14)."""

import re

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.contrib.auth import get_user_model
from django.core import mail
from django.core.cache import cache

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _clean_cache():
    cache.clear()
    yield
    cache.clear()


def test_after_a_reset_the_second_factor_is_still_asked(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    user = get_user_model().objects.create_user("vera", "vera@example.com", "old password 1")
    from allauth.account.models import EmailAddress

    EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    TOTP.activate(user, generate_totp_secret())

    client.post("/accounts/password/reset/", {"email": "vera@example.com"})
    link = re.search(r"https?://[^/]+(/accounts/password/reset/key/\S+)", mail.outbox[0].body)
    assert link, mail.outbox[0].body
    form_page = client.get(link.group(1), follow=True)
    # allauth moves the key out of the URL into the session, then shows the form.
    form_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link.group(1)
    new = {"password1": "new password 22", "password2": "new password 22"}
    response = client.post(form_url, new)
    assert response.status_code == 302

    response = client.post("/accounts/login/", {"login": "vera@example.com",
                                                "password": "new password 22"})  # fmt: skip
    assert response.status_code == 302
    assert response.url.startswith("/accounts/2fa/authenticate")
    # Not signed in until the code is given.
    assert client.get("/launches/").status_code == 302
    assert "/accounts/login/" in client.get("/launches/").url
