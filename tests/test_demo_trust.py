"""RELIABILITY case 24 as the demo's people would try it in the browser (`make run`'s launch and
logins): each way for one person to decide alone is refused with the reason and records nothing."""

from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from apps.demo.loader import DEMO_PASSWORD
from apps.gates.models import Gate, GateStatus, Waiver
from apps.signoffs.models import LaunchDecision, SignOff

pytestmark = pytest.mark.django_db
LAUNCH = "/launches/llm-research-lab"


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    call_command("load_demo")


def _login(client, username):
    client.force_login(get_user_model().objects.get(username=username))


def _sign(client, role, decision="approve", comment=""):
    url = f"{LAUNCH}/signoffs/{role}/sign/"
    form = client.get(url).context["form"]
    data = {"decision": decision, "comment": comment, "password": DEMO_PASSWORD,
            "digest": form.initial["digest"], "previous": form.initial["previous"]}  # fmt: skip
    return client.post(url, data)


def test_the_security_lead_attests_then_cannot_approve_over_it(client, demo):
    _login(client, "security-lead")
    response = client.post(f"{LAUNCH}/gates/security-review-passed/attest/",
                           {"comment": "I reviewed it myself"})  # fmt: skip
    assert response.status_code == 302

    page = client.get(f"{LAUNCH}/signoffs/security-lead/sign/").content.decode()
    assert "You cannot approve this scope" in page and "security-review-passed" in page
    response = _sign(client, "security-lead")
    assert response.status_code in (403, 409)  # 409 while other security gates fail
    assert not SignOff.objects.exists()


def test_a_one_person_waiver_of_a_blocking_gate_counts_for_nothing(client, demo):
    gate = next(g for g in Gate.objects.filter(launch__slug="llm-research-lab", blocking=True,
                                               category="security")
                if g.current_status()[0] != GateStatus.PASSING)  # fmt: skip
    _login(client, "security-lead")
    until = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"{LAUNCH}/gates/{gate.key}/waive/",
                           {"reason": "trust me", "expires_at": until})  # fmt: skip
    assert response.status_code == 302
    waiver = Waiver.objects.get(gate=gate)

    approve = f"{LAUNCH}/gates/{gate.key}/waivers/{waiver.pk}/approve/"
    assert client.post(approve).status_code == 403
    gate.refresh_from_db()
    assert gate.current_status()[0] != GateStatus.WAIVED
    assert Waiver.objects.get(pk=waiver.pk).granted_at is None


def test_a_waiver_to_9999_is_refused(client, demo):
    _login(client, "security-lead")
    response = client.post(f"{LAUNCH}/gates/security-review-passed/waive/",
                           {"reason": "forever", "expires_at": "9999-12-31T00:00"})  # fmt: skip
    assert response.status_code == 400
    assert "may run until" in response.content.decode()
    assert not Waiver.objects.filter(gate__key="security-review-passed").exists()


def test_the_pm_cannot_record_go_and_the_decider_needs_an_override_reason(client, demo):
    page = f"{LAUNCH}/decision/"
    go = {"step": "decide", "decision": "go", "attendees": "everyone", "password": DEMO_PASSWORD}
    _login(client, "pm")
    assert client.post(page, go).status_code == 403

    _login(client, "cto-ceo")
    refused = client.post(page, go)
    assert refused.status_code == 409
    assert "NO-GO" in refused.content.decode() or "no-go" in refused.content.decode()
    with_override = {**go, "decision": "go-override"}
    assert client.post(page, {**with_override, "override_reason": ""}).status_code == 400
    assert not LaunchDecision.objects.exists()

    override = {**with_override, "override_reason": "board accepted the risk"}
    assert client.post(page, override).status_code == 302
    decision = LaunchDecision.objects.get()
    assert decision.override and decision.blockers
    overview = client.get(f"{LAUNCH}/").content.decode()
    assert "override" in overview.lower()
