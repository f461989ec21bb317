"""The signer's landing page and a ceremony that guides: what waits for vera, what the sign page
says before she chooses, what a refused submission keeps, and how the matrix reads."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.signoffs.models import Assignment, Condition, Duty, Role, SignatureRequest, SignOff
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml
from tests.signoffs.conftest import PASSWORD, make_user, read, sign

pytestmark = pytest.mark.django_db
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"
MATRIX = "/launches/atlas/signoffs/"


def _sign(client, decision, url=SIGN_VP, **extra):
    return sign(client, url, decision, **extra)


def _waiting(client, url="/launches/"):
    return client.get(url).context["inbox"].waiting


def test_signing_in_lands_on_what_waits_with_a_working_link(client, people, all_passing):
    response = client.post("/accounts/login/", {"login": "vera@example.com", "password": PASSWORD},
                           follow=True)  # fmt: skip
    page = response.content.decode()
    assert response.redirect_chain[-1][0] == "/launches/"
    assert "Waiting for you" in page and "VP Engineering" in page and SIGN_VP in page
    assert client.get(SIGN_VP).status_code == 200
    [waiting] = response.context["inbox"].waiting
    assert (waiting.role.key, waiting.state, waiting.blocking) == ("vp-engineering",
                                                                   "not signed", [])  # fmt: skip


def test_the_inbox_names_what_blocks_approval_and_the_due_date(client, people, all_passing):
    read("coverage", "70")
    role = Role.objects.get(key="vp-engineering")
    due = timezone.now() + timedelta(days=2)
    SignatureRequest.objects.create(launch=role.launch, role=role, requested_by_name="Pat",
                                    due_at=due)  # fmt: skip
    client.force_login(people["vera"])
    [waiting] = _waiting(client)
    assert waiting.blocking == ["coverage"] and waiting.due_at == due
    page = client.get("/launches/atlas/").content.decode()  # the overview has it too
    assert "Waiting for you" in page and "coverage" in page and "due" in page


def test_a_role_leaves_the_inbox_once_approved_and_returns_rejected_or_invalidated(
    client, people, all_passing
):
    client.force_login(people["vera"])
    assert _sign(client, "approve").status_code == 302
    assert _waiting(client) == []
    read("coverage", "70")  # invalidates the approval
    assert [w.state for w in _waiting(client)] == ["invalidated"]
    read("coverage", "90")
    assert _sign(client, "reject", comment="not yet").status_code == 302
    assert [w.state for w in _waiting(client)] == ["rejected by you"]


def test_a_delegate_sees_the_role_for_its_holder(client, people, launch, all_passing):
    Assignment.objects.create(
        launch=launch, user=people["nora"], duty=Duty.SIGNER,
        role=Role.objects.get(key="vp-engineering"), delegate_of=people["vera"],
        valid_until=timezone.now() + timedelta(days=3), reason="vacation",
    )  # fmt: skip
    client.force_login(people["nora"])
    [waiting] = _waiting(client)
    assert waiting.on_behalf_of == "Vera"
    assert "for Vera" in client.get("/launches/").content.decode()
    assert 'Nora <span class="muted small">for Vera' in client.get(MATRIX).content.decode()


def test_conditions_one_owns_are_listed_overdue_first(client, people, all_passing):
    client.force_login(people["vera"])
    later = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    assert _sign(client, "approve_with_conditions", condition_0="fix the flaky test",
                 owner_0="Sam", due_0=later).status_code == 302  # fmt: skip
    Condition.objects.create(signoff=SignOff.objects.get(), text="rotate the keys", owner="sam",
                             due_at=timezone.now() - timedelta(hours=1))  # fmt: skip
    client.force_login(people["sam"])
    owned = client.get("/launches/").context["inbox"].conditions
    assert [(c.condition.text, c.overdue) for c in owned] == [
        ("rotate the keys", True), ("fix the flaky test", False)]  # fmt: skip


def test_the_api_lists_what_waits_for_the_signed_in_person(client, people, all_passing):
    read("coverage", "70")
    client.force_login(people["vera"])
    body = client.get("/api/v1/me/waiting/").json()
    assert body["waiting"] == [{
        "launch": "atlas", "role": "vp-engineering", "role_name": "VP Engineering",
        "state": "not signed", "on_behalf_of": "", "due_at": None, "blocking": ["coverage"],
        "sign_url": SIGN_VP,
    }]  # fmt: skip
    client.logout()
    assert client.get("/api/v1/me/waiting/").status_code == 401


def test_the_inbox_costs_the_same_queries_for_one_launch_or_four(client, people, all_passing,
                                                                spec):  # fmt: skip
    client.force_login(people["vera"])
    client.get("/launches/")  # each launch's gate blockers are drawn once, then kept
    with CaptureQueriesContext(connection) as one:
        client.get("/launches/")
    for slug in ("b", "c", "d"):
        spec["launch"]["slug"] = f"atlas-{slug}"
        other = import_launch_spec(raw=to_yaml(spec), actor="test").launch
        Assignment.objects.create(launch=other, user=people["vera"], duty=Duty.SIGNER,
                                  role=other.roles.get(key="vp-engineering"))  # fmt: skip
    client.get("/launches/")
    with CaptureQueriesContext(connection) as four:
        assert len(client.get("/launches/").context["inbox"].waiting) == 4
    assert len(four) == len(one)


# --- the sign page guides -----------------------------------------------------------------------


def test_approval_is_closed_before_choosing_when_a_blocking_gate_fails(client, people,
                                                                      all_passing):  # fmt: skip
    read("coverage", "70")
    client.force_login(people["vera"])
    response = client.get(SIGN_VP)
    choices = {value: disabled for value, _, disabled in response.context["decision_choices"]}
    assert choices == {"approve": True, "approve_with_conditions": True, "reject": False}
    page = response.content.decode()
    assert "Approval is not possible now" in page and "coverage" in page
    assert 'value="approve" disabled' in page and 'value="reject" required' in page


def test_a_refused_submission_keeps_the_decision_comment_and_conditions(client, people,
                                                                       all_passing):  # fmt: skip
    client.force_login(people["vera"])
    past = (timezone.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = _sign(client, "approve_with_conditions", comment="ok with caveats",
                     condition_0="load test at 2x", owner_0="Sam", due_0=past)  # fmt: skip
    assert response.status_code == 400
    page = response.content.decode()
    assert 'value="approve_with_conditions" checked' in page
    assert "ok with caveats" in page
    assert 'value="load test at 2x"' in page and 'value="Sam"' in page and f'value="{past}"' in page
    assert not SignOff.objects.exists()


def test_the_matrix_shows_a_rejection_as_a_rejection(client, people, all_passing):
    client.force_login(people["vera"])
    _sign(client, "reject", comment="coverage is not enough")
    page = client.get(MATRIX).content.decode()
    assert 'state-rejected">✗ Rejected' in page and "coverage is not enough" in page
    assert "✓ valid" not in page and "✓ Rejected" not in page
    assert 'state-not-signed">Not signed' in page  # the SRE role


def test_a_newcomer_without_roles_sees_no_inbox(client, people, all_passing):
    client.force_login(make_user("zoe"))
    assert not client.get("/launches/").context["inbox"]


def test_a_launch_token_has_no_inbox(client, launch, people):
    from apps.api.services import create_api_token

    raw = create_api_token(launch=launch, name="ci", scopes=["read"], actor="test")[1]
    response = client.get("/api/v1/me/waiting/", headers={"Authorization": f"Bearer {raw}"})
    assert response.status_code == 403 and "sign in" in response.json()["detail"]
