"""A launch that requires a second factor from its signers (spec `signers_need_mfa: true`).

vera holds VP Engineering (and the decision role) on Atlas: without an authenticator app she is
led to enrol one and every door refuses her signature; once enrolled she signs with its code.
"""

import pytest
from allauth.mfa.totp.internal.auth import (
    TOTP,
    generate_totp_secret,
)
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.signoffs.models import LaunchDecision, Role, SignOff
from apps.signoffs.services import MFA_REQUIRED, SigningRefused, record_decision, sign_off
from apps.signoffs.snapshot import take_snapshot
from tests.signoffs.conftest import PASSWORD, current_totp_code

pytestmark = pytest.mark.django_db
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"
BLOCK = "This launch requires an authenticator app for signing"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()  # used TOTP codes are remembered in the shared cache
    yield
    cache.clear()


@pytest.fixture
def strict(launch):
    launch.signers_need_mfa = True
    launch.save(update_fields=["signers_need_mfa"])


def _seen(client) -> dict:
    form = client.get(SIGN_VP).context["form"]
    return {"digest": form.initial["digest"], "previous": form.initial["previous"]}


def test_a_signer_without_an_authenticator_is_led_to_enrol(client, people, all_passing, strict):
    client.force_login(people["vera"])
    response = client.get(SIGN_VP)
    assert response.status_code == 200
    page = response.content.decode()
    assert BLOCK in page
    assert f'href="{reverse("mfa_activate_totp")}"' in page
    assert 'class="sign-form"' not in page and 'name="decision"' not in page  # no form offered


def test_her_signature_is_refused_with_the_reason_and_nothing_stored(
    client, people, all_passing, strict
):
    client.force_login(people["vera"])
    data = {"decision": "approve", "password": PASSWORD, "comment": "", **_seen(client)}
    response = client.post(SIGN_VP, data)
    assert response.status_code == 403
    assert BLOCK in response.content.decode()
    assert MFA_REQUIRED in response.content.decode()
    assert not SignOff.objects.exists()
    assert not AuditEvent.objects.filter(action="signoff.signed").exists()


def test_every_door_is_held_by_the_service(people, all_passing, strict):
    role = Role.objects.get(key="vp-engineering")
    digest = take_snapshot(role, timezone.now()).digest
    with pytest.raises(SigningRefused) as refused:
        sign_off(role=role, user=people["vera"], decision="approve", comment="", conditions=[],
                 digest_seen=digest, previous_id=None)  # fmt: skip
    assert (refused.value.status, refused.value.message) == (403, MFA_REQUIRED)
    assert not SignOff.objects.exists()


def test_the_decider_without_an_authenticator_cannot_record_the_go_no_go(
    client, launch, people, all_passing, strict
):
    client.force_login(people["vera"])
    response = client.post("/launches/atlas/decision/", {
        "step": "decide", "decision": "no-go", "attendees": "pat, vera", "password": PASSWORD,
    })  # fmt: skip
    assert response.status_code == 403
    with pytest.raises(SigningRefused):
        record_decision(launch=launch, user=people["vera"], decision="no-go", attendees="pat",
                        notes="")  # fmt: skip
    assert not LaunchDecision.objects.exists()


def test_once_enrolled_she_signs_with_a_code_and_totp_is_recorded(client, people, all_passing,
                                                                  strict):  # fmt: skip
    secret = generate_totp_secret()
    TOTP.activate(people["vera"], secret)
    client.force_login(people["vera"])
    page = client.get(SIGN_VP).content.decode()
    assert BLOCK not in page and "Authenticator code" in page
    data = {
        "decision": "approve",
        "code": current_totp_code(secret),
        "comment": "",
        **_seen(client),
    }
    assert client.post(SIGN_VP, data).status_code == 302
    assert SignOff.objects.get().reauth_method == "totp"


def test_without_the_requirement_the_password_still_signs(client, people, all_passing):
    client.force_login(people["vera"])
    assert BLOCK not in client.get(SIGN_VP).content.decode()
    data = {"decision": "approve", "password": PASSWORD, "comment": "", **_seen(client)}
    assert client.post(SIGN_VP, data).status_code == 302
    assert SignOff.objects.get().reauth_method == "password"
