"""The audit log page, the Go/No-Go and waivers in the browser."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.models import Gate, Waiver
from apps.signoffs.models import LaunchDecision
from tests.signoffs.conftest import PASSWORD, read

pytestmark = pytest.mark.django_db


def test_the_audit_page_filters_and_paginates(client, people, all_passing):
    client.force_login(people["otto"])
    for i in range(60):
        read("coverage", str(86 + (i % 2)))  # no status change: no events
    response = client.get("/launches/atlas/audit/")
    assert response.status_code == 200
    page = response.context["page"]
    assert page.paginator.count == AuditEvent.objects.filter(launch_slug="atlas").count()
    filtered = client.get("/launches/atlas/audit/?action=gate.attested").context["page"]
    assert [e.action for e in filtered] == ["gate.attested"]
    by_actor = client.get("/launches/atlas/audit/?actor=pat").context["page"]
    assert {e.actor_name for e in by_actor} == {"Pat"}
    later = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    assert client.get(f"/launches/atlas/audit/?since={later}").context["page"].paginator.count == 0


def test_the_audit_page_is_not_shown_to_outsiders(client, people, all_passing):
    client.force_login(people["nora"])
    assert client.get("/launches/atlas/audit/").status_code == 404


def test_the_decision_role_holder_records_the_go_no_go(client, people, all_passing):
    client.force_login(people["vera"])  # VP Engineering: Atlas's decision role
    page = client.get("/launches/atlas/decision/")
    assert page.context["readiness"].recommendation == "no-go"  # no sign-offs yet
    response = client.post(
        "/launches/atlas/decision/",
        {"step": "decide", "decision": "no-go", "attendees": "pat, vera, sam",
         "notes": "await sign-offs", "password": PASSWORD},
    )  # fmt: skip
    assert response.status_code == 302
    decision = LaunchDecision.objects.get()
    assert (decision.decision, decision.recommendation) == ("no-go", "no-go")
    assert {b["key"] for b in decision.blockers} == {"vp-engineering", "sre-lead"}
    assert AuditEvent.objects.filter(action="launch.decided", actor_name="Vera").exists()


@pytest.mark.parametrize("who", ["pat", "sam", "otto"])
def test_others_do_not_record_the_go_no_go(client, people, all_passing, who):
    client.force_login(people[who])
    response = client.post("/launches/atlas/decision/",
                           {"step": "decide", "decision": "no-go", "attendees": "me",
                            "password": PASSWORD})  # fmt: skip
    assert response.status_code == 403
    assert not LaunchDecision.objects.exists()


def test_a_role_holder_asks_to_waive_a_gate_in_scope(client, people, all_passing):
    read("coverage", "70")
    client.force_login(people["vera"])
    expires = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/launches/atlas/gates/coverage/waive/",
        {"reason": "legacy module, fixed in 2.0.1", "expires_at": expires},
    )
    assert response.status_code == 302
    gate = Gate.objects.get(key="coverage")
    # A blocking gate: the request waits for a second person (tests/signoffs/test_waivers_...).
    assert gate.current_status()[0] == "failing"
    overview = client.get("/launches/atlas/").content.decode()
    assert "legacy module, fixed in 2.0.1" in overview and "Waiting for a second person" in overview


def test_a_waiver_outside_ones_scope_is_refused(client, people, all_passing):
    client.force_login(people["sam"])  # operations only
    expires = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/launches/atlas/gates/coverage/waive/", {"reason": "x", "expires_at": expires}
    )
    assert response.status_code == 403
    assert not Waiver.objects.exists()


def test_a_waiver_in_the_past_is_refused(client, people, all_passing):
    client.force_login(people["vera"])
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = client.post(
        "/launches/atlas/gates/coverage/waive/", {"reason": "x", "expires_at": past}
    )
    assert response.status_code == 400
    assert not Waiver.objects.exists()


def test_a_denial_is_logged(client, people, all_passing, caplog):
    client.force_login(people["otto"])
    with caplog.at_level("WARNING", logger="portal.security"):
        response = client.get("/launches/atlas/signoffs/vp-engineering/sign/")
    assert response.status_code == 403
    assert "you do not hold the VP Engineering role" in response.content.decode()
    assert "denied GET /launches/atlas/signoffs/vp-engineering/sign/ to otto" in caplog.text


def test_assigning_a_role_in_the_admin_is_audited(client, people, launch):
    from django.contrib.auth import get_user_model

    from apps.signoffs.models import Role

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    role = Role.objects.get(key="sre-lead")
    response = client.post("/admin/signoffs/assignment/add/", {
        "launch": launch.pk, "user": people["nora"].pk, "duty": "signer", "role": role.pk,
        "reason": "", "valid_from_0": "", "valid_from_1": "", "valid_until_0": "",
        "valid_until_1": "", "revoked_at_0": "", "revoked_at_1": ""})  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(action="assignment.created")
    assert (event.object_key, event.data["role"], event.actor_name) == ("nora", "sre-lead", "root")
