"""Re-authentication at signing (RELIABILITY case 14): password, or TOTP when enrolled."""

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    TOTP,
    generate_totp_secret,
)
from django.core.cache import cache

from apps.signoffs.models import SignOff
from tests.signoffs.conftest import PASSWORD, current_totp_code

pytestmark = pytest.mark.django_db
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # used TOTP codes are remembered in the shared cache
    yield
    cache.clear()


@pytest.fixture
def enrolled(people):
    secret = generate_totp_secret()
    TOTP.activate(people["vera"], secret)
    return secret


def _open(client):
    form = client.get(SIGN_VP).context["form"]
    return {"digest": form.initial["digest"], "previous": form.initial["previous"]}


def _sign(client, **fields):
    return client.post(SIGN_VP, {"decision": "approve", **_open(client), **fields})


def test_an_enrolled_signer_confirms_with_acurrent_totp_code(client, people, all_passing, enrolled):
    client.force_login(people["vera"])
    assert b"Authenticator code" in client.get(SIGN_VP).content
    assert _sign(client, code=current_totp_code(enrolled)).status_code == 302
    assert SignOff.objects.count() == 1


def test_a_wrong_code_is_refused(client, people, all_passing, enrolled):
    client.force_login(people["vera"])
    wrong = f"{(int(current_totp_code(enrolled)) + 1) % 1_000_000:06d}"
    response = _sign(client, code=wrong)
    assert response.status_code == 400
    assert "That code is wrong or was already used." in response.content.decode()
    assert not SignOff.objects.exists()


def test_a_replayed_code_is_refused(client, people, all_passing, enrolled):
    client.force_login(people["vera"])
    code = current_totp_code(enrolled)
    assert _sign(client, code=code).status_code == 302
    assert _sign(client, code=code).status_code == 400  # the same code, again
    assert SignOff.objects.count() == 1


def test_the_password_does_not_replace_the_code_once_enrolled(client, people, all_passing,
                                                               enrolled):  # fmt: skip
    client.force_login(people["vera"])
    assert _sign(client, password=PASSWORD).status_code == 400
    assert not SignOff.objects.exists()


def test_an_sso_only_user_must_take_a_step_of_ours(client, people, all_passing):
    vera = people["vera"]
    vera.set_unusable_password()
    vera.save()
    client.force_login(vera)  # as an OpenID Connect sign-in would leave the session
    response = _sign(client, password="")
    assert response.status_code == 400
    assert "set up an authenticator app first" in response.content.decode()
    assert not SignOff.objects.exists()
    assert Authenticator.objects.count() == 0
