"""People and roles: ada, the launch's admin, invites people, gives them roles (or a delegation
with a window and a reason) and ends them; every change is audited; nobody else may."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.signoffs.models import Assignment, Duty, Role
from tests.signoffs.conftest import PASSWORD

pytestmark = pytest.mark.django_db
PEOPLE = "/launches/atlas/people/"
NEW_PASSWORD = "a long and new passphrase 42"
NO_WINDOW = "a delegate needs the end of the window and a reason"


@pytest.fixture
def ada(people, launch):
    ada = get_user_model().objects.create_user("ada", "ada@example.com", PASSWORD,
                                               first_name="Ada")  # fmt: skip
    Assignment.objects.create(launch=launch, user=ada, duty=Duty.ADMIN)
    return ada


def _add(client, capture, **fields):
    data = {"email": "", "name": "", "duty": "signer", "role": "", "delegate_of": "",
            "valid_from": "", "valid_until": "", "reason": "", **fields}  # fmt: skip
    with capture(execute=True):  # the invitation leaves after commit
        return client.post(PEOPLE, data)


def _link(message) -> str:
    return re.search(r"http://testserver(/accounts/invite/\S+/)", message.body).group(1)


def test_the_admin_invites_a_new_signer_who_sets_a_password_and_signs_in(
    client, ada, django_capture_on_commit_callbacks
):
    client.force_login(ada)
    response = _add(client, django_capture_on_commit_callbacks, email="Rita@Example.com",
                    name="Rita Levi", role="sre-lead")  # fmt: skip
    assert response.status_code == 302

    rita = get_user_model().objects.get(email="rita@example.com")
    assert not rita.has_usable_password() and rita.get_full_name() == "Rita Levi"
    assignment = Assignment.objects.get(user=rita)
    assert (assignment.duty, assignment.role.key) == ("signer", "sre-lead")
    actions = list(AuditEvent.objects.order_by("-sequence").values_list("action", flat=True)[:2])
    assert actions == ["role.assigned", "user.invited"]
    (message,) = mail.outbox
    assert message.to == ["rita@example.com"]

    client.logout()
    link = _link(message)
    assert client.get(link).status_code == 200
    response = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert response.status_code == 302 and response.url == "/accounts/login/"
    assert client.get(link).status_code == 400  # one time only
    assert AuditEvent.objects.filter(action="user.invite_accepted", object_key=rita.email).exists()

    response = client.post("/accounts/login/", {"login": "rita@example.com",
                                                "password": NEW_PASSWORD})  # fmt: skip
    assert response.status_code == 302 and response.url == "/launches/"
    assert client.get("/launches/atlas/signoffs/sre-lead/sign/").status_code == 200


def test_inviting_again_resends_until_accepted(client, ada, django_capture_on_commit_callbacks):
    client.force_login(ada)
    capture = django_capture_on_commit_callbacks
    assert _add(client, capture, email="rita@example.com", duty="auditor").status_code == 302
    assert _add(client, capture, email="rita@example.com", role="sre-lead").status_code == 302
    assert get_user_model().objects.filter(email="rita@example.com").count() == 1
    assert len(mail.outbox) == 2 and Assignment.objects.filter(user__email="rita@example.com")

    rita = get_user_model().objects.get(email="rita@example.com")
    rita.set_password(NEW_PASSWORD)
    rita.save()
    response = _add(client, capture, email="rita@example.com", duty="program_manager")
    assert response.status_code == 302
    assert len(mail.outbox) == 2  # she has a password: no link
    assert Assignment.objects.filter(user=rita).count() == 3


def test_a_delegate_stands_in_for_a_holder_within_a_window_with_a_reason(
    client, ada, people, django_capture_on_commit_callbacks
):
    client.force_login(ada)
    until = (timezone.now() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    response = _add(client, django_capture_on_commit_callbacks, email="sam@example.com",
                    role="vp-engineering", delegate_of=people["vera"].pk, valid_until=until,
                    reason="Vera on leave")  # fmt: skip
    assert response.status_code == 302
    delegation = Assignment.objects.get(user=people["sam"], role__key="vp-engineering")
    assert delegation.delegate_of == people["vera"] and delegation.reason == "Vera on leave"
    event = AuditEvent.objects.filter(action="role.assigned").latest("sequence")
    assert event.data["delegate_of"] == "Vera" and event.data["reason"] == "Vera on leave"
    page = client.get(PEOPLE).content.decode()
    assert "Vera on leave" in page and "current" in page


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"reason": "leave"}, NO_WINDOW),
        ({"valid_until": "2099-01-01T00:00"}, NO_WINDOW),
        ({"valid_until": "2000-01-01T00:00", "reason": "x"}, "the window must end in the future"),
    ],
)
def test_a_bad_delegation_is_refused_and_invites_nobody(
    client, ada, people, django_capture_on_commit_callbacks, fields, error
):
    client.force_login(ada)
    before = AuditEvent.objects.count()
    response = _add(client, django_capture_on_commit_callbacks, email="new@example.com",
                    role="vp-engineering", delegate_of=people["vera"].pk, **fields)  # fmt: skip
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not get_user_model().objects.filter(email="new@example.com").exists()
    assert AuditEvent.objects.count() == before and not mail.outbox


def test_a_delegate_of_someone_not_holding_the_role_is_refused(
    client, ada, people, django_capture_on_commit_callbacks
):
    client.force_login(ada)
    until = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = _add(client, django_capture_on_commit_callbacks, email="nora@example.com",
                    role="vp-engineering", delegate_of=people["sam"].pk, valid_until=until,
                    reason="x")  # fmt: skip
    assert response.status_code == 400  # sam holds SRE Lead, not VP Engineering
    assert not Assignment.objects.filter(user=people["nora"]).exists()


def test_a_signer_without_a_role_is_refused(client, ada, django_capture_on_commit_callbacks):
    client.force_login(ada)
    response = _add(client, django_capture_on_commit_callbacks, email="x@example.com")
    assert response.status_code == 400
    assert "a signer holds a role" in response.content.decode()


def test_ending_an_assignment_asks_first_then_takes_the_role_away_and_is_audited(
    client, ada, people
):
    vera_holds = Assignment.objects.get(user=people["vera"])
    client.force_login(ada)
    asked = client.post(PEOPLE, {"end": vera_holds.pk})
    assert asked.status_code == 200 and "End this duty?" in asked.content.decode()
    vera_holds.refresh_from_db()
    assert vera_holds.revoked_at is None  # one click ends nothing
    assert client.post(PEOPLE, {"end": vera_holds.pk, "confirm": "yes"}).status_code == 302
    vera_holds.refresh_from_db()
    assert vera_holds.revoked_at is not None
    event = AuditEvent.objects.get(action="role.ended")
    assert (event.object_key, event.data["role"]) == (str(vera_holds.pk), "vp-engineering")
    client.force_login(people["vera"])
    assert client.get("/launches/atlas/signoffs/vp-engineering/sign/").status_code == 404


def test_another_launchs_assignment_cannot_be_ended_from_here(client, ada, spec):
    from apps.specs.services import import_launch_spec
    from tests.helpers import to_yaml

    spec["launch"]["slug"] = "other"
    other = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    theirs = Assignment.objects.create(launch=other, user=ada, duty=Duty.AUDITOR)
    client.force_login(ada)
    assert client.post(PEOPLE, {"end": theirs.pk, "confirm": "yes"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.parametrize("who", ["vera", "pat", "otto"])
def test_only_launch_admins_manage_people(client, ada, people, who):
    client.force_login(people[who])
    page = client.get(PEOPLE)
    assert page.status_code == 200 and "Add a person" not in page.content.decode()
    before = Assignment.objects.count()
    vera_holds = Assignment.objects.get(user=people["vera"])
    assert client.post(PEOPLE, {"email": "x@example.com", "duty": "auditor"}).status_code == 403
    assert client.post(PEOPLE, {"end": vera_holds.pk, "confirm": "yes"}).status_code == 403
    assert Assignment.objects.count() == before
    assert not AuditEvent.objects.filter(action__startswith="role.").exists()


def test_an_outsider_does_not_see_the_page(client, people):
    client.force_login(people["nora"])
    assert client.get(PEOPLE).status_code == 404
    assert client.post(PEOPLE, {"email": "x@example.com", "duty": "auditor"}).status_code == 404


def test_staff_manage_people_on_any_launch(client, people, launch):
    staff = get_user_model().objects.create_user("root", "root@example.com", PASSWORD,
                                                 is_staff=True)  # fmt: skip
    client.force_login(staff)
    assert "Add a person" in client.get(PEOPLE).content.decode()
    assert client.post(PEOPLE, {"email": "pat@example.com", "duty": "admin"}).status_code == 302
    assert Assignment.objects.filter(user=people["pat"], duty=Duty.ADMIN).exists()


def _count(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(PEOPLE).status_code == 200
    return len(ctx.captured_queries)


def test_the_page_costs_the_same_queries_however_many_people(client, ada, launch):
    client.force_login(ada)
    before = _count(client)
    role = Role.objects.get(key="sre-lead")
    for i in range(20):
        user = get_user_model().objects.create_user(f"u{i}", f"u{i}@example.com", PASSWORD)
        Assignment.objects.create(launch=launch, user=user, duty=Duty.SIGNER, role=role)
    assert _count(client) == before


def test_a_launch_keeps_at_least_one_admin(client, ada, people):
    own = Assignment.objects.get(user=ada, duty=Duty.ADMIN)
    client.force_login(ada)
    asked = client.post(PEOPLE, {"end": own.pk}).content.decode()
    assert "This is your own duty" in asked
    response = client.post(PEOPLE, {"end": own.pk, "confirm": "yes"}, follow=True)
    assert "a launch keeps at least one admin" in response.content.decode()
    own.refresh_from_db()
    assert own.revoked_at is None
    second = Assignment.objects.create(launch=own.launch, user=people["otto"], duty=Duty.ADMIN)
    assert client.post(PEOPLE, {"end": own.pk, "confirm": "yes"}).status_code == 302
    own.refresh_from_db()
    assert own.revoked_at is not None
    assert Assignment.objects.get(pk=second.pk).revoked_at is None
