"""OpenID Connect sign-in, live against a small provider on loopback: invited people sign in by
their verified email, nobody else gets an account, and signing still asks for a step of ours
(RELIABILITY case 14)."""

from urllib.parse import urlparse

import pytest
import requests
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.accounts.services import accept_invitation, invite_user
from apps.audit.models import AuditEvent
from apps.signoffs.models import Assignment, Duty, Role, SignOff
from tests.accounts.oidc_provider import FakeIdP
from tests.signoffs import conftest as signoffs

# The signing story's launch and people (vera, sam, pat, otto, nora), as fixtures here too.
launch, people, all_passing = signoffs.launch, signoffs.people, signoffs.all_passing

pytestmark = pytest.mark.django_db
IDP_PORT = 18601  # the signoffs helper's port range
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"


@pytest.fixture
def idp(settings):
    with FakeIdP(IDP_PORT) as idp:
        # Settings are read at import; the test configures the provider as _oidc_providers() would.
        settings.SOCIALACCOUNT_PROVIDERS = idp.provider_settings()
        yield idp


def sso_sign_in(client, idp: FakeIdP, email: str, *, verified: bool = True):
    """Start at the portal, authorize at the provider, come back to the callback."""
    idp.person = {"sub": f"sub-{email}", "email": email, "email_verified": verified,
                  "name": "From SSO"}  # fmt: skip
    start = client.post("/accounts/oidc/sso/login/", {"process": "login"})
    assert start.status_code == 302 and start.url.startswith(f"{idp.issuer}/authorize?")
    back = requests.get(start.url, allow_redirects=False, timeout=5)
    assert back.status_code == 302
    callback = urlparse(back.headers["Location"])
    assert (callback.netloc, callback.path) == ("testserver", "/accounts/oidc/sso/login/callback/")
    return client.get(f"{callback.path}?{callback.query}")


def invite(email: str, inviter):
    with transaction.atomic():
        return invite_user(email=email, name="Ivy Invited", invited_by=inviter,
                           base_url="http://testserver/").user  # fmt: skip


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_user("root", "root@example.com", "x", is_staff=True)


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def test_an_invited_person_signs_in_with_single_sign_on(client, idp, admin_user):
    ivy = invite("ivy@example.com", admin_user)

    response = sso_sign_in(client, idp, "Ivy@Example.com")

    assert response.status_code == 302 and response.url == "/launches/"
    assert signed_in_as(client) == str(ivy.pk)
    assert SocialAccount.objects.get(user=ivy).uid == "sub-Ivy@Example.com"
    assert AuditEvent.objects.filter(action="auth.login", actor=ivy).exists()
    assert {"/.well-known/openid-configuration", "/authorize", "/token", "/userinfo"} <= set(
        idp.requests
    )
    assert get_user_model().objects.count() == 2  # nobody new


def test_someone_not_invited_is_refused_and_gets_no_account(client, idp, admin_user):
    response = sso_sign_in(client, idp, "stranger@example.com")

    assert response.status_code == 200
    assert b"Sign Up Closed" in response.content
    assert signed_in_as(client) is None
    assert not get_user_model().objects.filter(email="stranger@example.com").exists()
    assert not SocialAccount.objects.exists()


def test_an_unverified_email_at_the_provider_does_not_match_an_invited_person(
    client, idp, admin_user
):
    invite("ivy@example.com", admin_user)

    response = sso_sign_in(client, idp, "ivy@example.com", verified=False)

    assert signed_in_as(client) is None
    assert response.status_code == 200 and b"Sign Up Closed" in response.content


def test_an_invitee_who_set_a_password_keeps_it_after_single_sign_on(client, idp, admin_user):
    ivy = invite("ivy@example.com", admin_user)
    accept_invitation(user=ivy, password="a long and new passphrase 42")

    assert sso_sign_in(client, idp, "ivy@example.com").status_code == 302

    ivy.refresh_from_db()  # the link verified her email: allauth has no reason to wipe it
    assert ivy.check_password("a long and new passphrase 42")


def test_a_signer_signed_in_by_sso_must_still_take_a_step_of_ours(
    client, idp, admin_user, people, all_passing
):
    ivy = invite("ivy@example.com", admin_user)
    vp = Role.objects.get(key="vp-engineering")
    Assignment.objects.create(launch_id=vp.launch_id, user=ivy, duty=Duty.SIGNER, role=vp)
    assert sso_sign_in(client, idp, "ivy@example.com").status_code == 302

    form = client.get(SIGN_VP).context["form"]
    response = client.post(SIGN_VP, {"decision": "approve", "password": "",
                                     "digest": form.initial["digest"],
                                     "previous": form.initial["previous"]})  # fmt: skip

    assert response.status_code == 400
    assert "set up an authenticator app first" in response.content.decode()
    assert not SignOff.objects.exists()
