"""People attest manual gates in the browser; only those whose role covers the gate may."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.audit.models import AuditEvent
from apps.gates.models import Gate, Measurement
from apps.signoffs.models import Assignment, Duty, Role
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db
URL = "/launches/atlas/gates/runbooks/attest/"


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _person(django_user_model, launch, name, *, duty, role_key=None):
    user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw")
    role = Role.objects.get(launch=launch, key=role_key) if role_key else None
    Assignment.objects.create(launch=launch, user=user, duty=duty, role=role)
    return user


def test_the_sre_lead_attests_a_runbook_gate_with_evidence(client, launch, django_user_model):
    sre = _person(django_user_model, launch, "sam", duty=Duty.SIGNER, role_key="sre-lead")
    client.force_login(sre)
    assert URL in client.get("/launches/atlas/").content.decode()  # it needs attention
    assert client.get(URL).status_code == 200
    upload = SimpleUploadedFile("drill.pdf", b"%PDF-1.4 drill notes", "application/pdf")
    response = client.post(URL, {"comment": "ran all 12 runbooks on staging", "evidence": upload})
    assert response.status_code == 302
    m = Measurement.objects.get(gate__key="runbooks")
    assert (m.status, m.source_detail["attested_by"]) == ("passing", "sam")
    assert m.evidence.name == "drill.pdf"
    assert AuditEvent.objects.filter(action="gate.attested", actor_name="sam").exists()
    overview = client.get("/launches/atlas/").content.decode()
    assert URL not in overview  # attested: passing, no longer among the gates needing attention


def test_the_program_manager_may_attest(client, launch, django_user_model):
    client.force_login(_person(django_user_model, launch, "pat", duty=Duty.PROGRAM_MANAGER))
    assert client.post(URL, {"comment": "confirmed"}).status_code == 302


@pytest.mark.parametrize(
    ("duty", "role_key"),
    [
        (Duty.SIGNER, "vp-engineering"),  # covers slo and quality, not operations
        (Duty.AUDITOR, None),
    ],
)
def test_others_may_not_attest(client, launch, django_user_model, duty, role_key):
    client.force_login(_person(django_user_model, launch, "olga", duty=duty, role_key=role_key))
    assert client.post(URL, {"comment": "sure"}).status_code == 403
    assert URL not in client.get("/launches/atlas/").content.decode()
    assert not Measurement.objects.exists()


def test_a_user_without_any_assignment_may_not_attest(client, launch, django_user_model):
    client.force_login(django_user_model.objects.create_user("x", "x@example.com", "pw"))
    assert client.post(URL, {"comment": "sure"}).status_code == 404  # the launch is not theirs


def test_an_anonymous_visitor_is_sent_to_log_in(client, launch):
    response = client.post(URL, {"comment": "sure"})
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert not Measurement.objects.exists()


def test_only_manual_gates_are_attested(client, launch, django_user_model):
    client.force_login(_person(django_user_model, launch, "pat", duty=Duty.PROGRAM_MANAGER))
    assert (
        client.post("/launches/atlas/gates/coverage/attest/", {"comment": "x"}).status_code == 403
    )


def test_a_comment_is_required(client, launch, django_user_model):
    client.force_login(_person(django_user_model, launch, "pat", duty=Duty.PROGRAM_MANAGER))
    response = client.post(URL, {"comment": ""})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert Gate.objects.get(key="runbooks").state == "pending"
