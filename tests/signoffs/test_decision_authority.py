"""The Go/No-Go with authority: vera holds VP Engineering, the Atlas launch's decision role.

pat (program manager) prepares the meeting record but does not decide; sam (SRE Lead) signs but
does not decide; vera decides, confirming it is her as when signing. With the gates passing and
no sign-off yet the portal recommends NO-GO: a Go against it is an override, with a reason.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.signoffs.models import Assignment, DecisionMeeting, Duty, LaunchDecision
from apps.signoffs.services import SigningRefused, prepare_decision, record_decision
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml
from tests.signoffs.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db
PAGE = "/launches/atlas/decision/"


def decide(client, decision: str, **fields):
    data = {"step": "decide", "decision": decision, "attendees": "pat, vera, sam",
            "password": PASSWORD, **fields}  # fmt: skip
    return client.post(PAGE, data)


def test_the_program_manager_cannot_record_the_decision(client, launch, people, all_passing):
    client.force_login(people["pat"])
    response = decide(client, "no-go")
    assert response.status_code == 403
    assert "only a holder of the vp-engineering role records the Go/No-Go" in (
        response.content.decode()
    )
    assert not LaunchDecision.objects.exists()
    with pytest.raises(SigningRefused) as refused:  # the service, whatever door calls it
        record_decision(launch=launch, user=people["pat"], decision="no-go", attendees="pat",
                        notes="")  # fmt: skip
    assert refused.value.status == 403


def test_the_program_manager_prepares_the_meeting_record_for_the_decider(
    client, people, all_passing
):
    client.force_login(people["pat"])
    response = client.post(PAGE, {"step": "prepare", "meeting-attendees": "pat, vera, sam",
                                  "meeting-notes": "await the SRE sign-off"})  # fmt: skip
    assert response.status_code == 302
    meeting = DecisionMeeting.objects.get()
    assert (meeting.attendees, meeting.prepared_by_name) == ("pat, vera, sam", "Pat")
    event = AuditEvent.objects.get(action="decision.prepared")
    assert event.actor_name == "Pat" and event.data["notes"] == "await the SRE sign-off"
    client.force_login(people["vera"])
    form = client.get(PAGE).context["form"]
    assert form.initial == {"attendees": "pat, vera, sam", "notes": "await the SRE sign-off"}


@pytest.mark.parametrize("password", ["", "not my password"])
def test_the_decider_must_confirm_it_is_her(client, people, all_passing, password):
    client.force_login(people["vera"])
    response = decide(client, "no-go", password=password)
    assert response.status_code == 400
    assert "That is not your password." in response.content.decode()
    assert not LaunchDecision.objects.exists()


def test_an_sso_only_decider_must_take_a_step_of_ours(client, people, all_passing):
    people["vera"].set_unusable_password()
    people["vera"].save()
    client.force_login(people["vera"])
    response = decide(client, "no-go", password="")
    assert response.status_code == 400
    assert "set up an authenticator app first" in response.content.decode()
    assert not LaunchDecision.objects.exists()


def test_go_against_no_go_without_override_is_refused_naming_the_blockers(
    client, people, all_passing
):
    client.force_login(people["vera"])
    response = decide(client, "go")
    assert response.status_code == 409
    body = response.content.decode()
    assert "the portal recommends NO-GO" in body
    assert "vp-engineering (missing" in body and "sre-lead (missing" in body
    assert not LaunchDecision.objects.exists()
    assert not AuditEvent.objects.filter(action="launch.decided").exists()


def test_an_override_needs_a_reason(client, people, all_passing):
    client.force_login(people["vera"])
    response = decide(client, "go-override", override_reason="  ")
    assert response.status_code == 400
    assert "needs the reason for overriding" in response.content.decode()
    assert not LaunchDecision.objects.exists()


def test_a_reasoned_override_is_stored_and_marked_everywhere(client, people, all_passing):
    client.force_login(people["vera"])
    kept = client.get("/launches/atlas/").content.decode()  # its record part is kept now
    assert "Go/No-Go decision" not in kept
    reason = "the SRE sign-off is a formality today; Sam approves after the freeze"
    assert decide(client, "go-override", override_reason=reason).status_code == 302
    made = LaunchDecision.objects.get()
    assert (made.decision, made.recommendation, made.override) == ("go", "no-go", True)
    assert made.override_reason == reason and made.role == "vp-engineering"
    assert {b["key"] for b in made.blockers} == {"vp-engineering", "sre-lead"}
    assert "OVERRIDE of the portal's NO-GO" in client.get("/launches/atlas/").content.decode()
    assert "OVERRIDE" in client.get(PAGE).content.decode()
    [api] = client.get("/api/v1/launches/atlas/decisions/").json()["results"]
    assert (api["override"], api["override_reason"], api["supersedes"]) == (True, reason, None)
    event = AuditEvent.objects.get(action="launch.decided")
    assert (event.data["override"], event.data["override_reason"]) == (True, reason)
    assert event.data["blockers"] == 2


def test_no_go_is_always_allowed(client, people, all_passing):
    client.force_login(people["vera"])
    assert decide(client, "no-go", notes="await sign-offs").status_code == 302
    made = LaunchDecision.objects.get()
    assert (made.decision, made.override, made.override_reason) == ("no-go", False, "")
    assert AuditEvent.objects.get(action="launch.decided").data["override"] is False


def test_a_new_decision_supersedes_the_last_and_both_remain(client, launch, people,
                                                            all_passing):  # fmt: skip
    client.force_login(people["vera"])
    assert decide(client, "no-go").status_code == 302
    assert decide(client, "go-override", override_reason="risk accepted").status_code == 302
    first, second = LaunchDecision.objects.order_by("decided_at", "id")
    assert second.supersedes == first and first.superseded_by == second
    assert list(LaunchDecision.objects.current()) == [second]
    assert launch.current_decision() == second
    event = AuditEvent.objects.filter(action="launch.decided").latest("sequence")
    assert event.data["supersedes"] == first.pk
    assert "superseded" in client.get(PAGE).content.decode()


@pytest.mark.parametrize("who", ["sam", "otto"])
def test_others_on_the_launch_do_not_decide(client, people, all_passing, who):
    client.force_login(people[who])
    response = decide(client, "no-go")
    assert response.status_code == 403
    assert not LaunchDecision.objects.exists()
    assert "Record the decision" not in client.get(PAGE).content.decode()


def test_a_retired_decision_role_neither_decides_nor_prepares_the_meeting(launch, people):
    """ "The decider" is one rule (can_decide): once the decision role is retired from the spec,
    its former holder neither records the Go/No-Go nor prepares the meeting record; the
    program manager still prepares it."""
    role = launch.roles.get(key="vp-engineering")
    role.retired_at = timezone.now()
    role.save(update_fields=["retired_at"])
    vera = people["vera"]
    for refused in (
        lambda: prepare_decision(launch=launch, user=vera, attendees="vera", notes=""),
        lambda: record_decision(
            launch=launch, user=vera, decision="no-go", attendees="vera", notes=""
        ),  # fmt: skip
    ):
        with pytest.raises(SigningRefused):
            refused()
    assert prepare_decision(launch=launch, user=people["pat"], attendees="pat", notes="").pk
    assert DecisionMeeting.objects.get().prepared_by == people["pat"]


def test_a_current_delegate_decides_on_behalf_of_the_holder(client, launch, people,
                                                            all_passing):  # fmt: skip
    nora = people["nora"]
    Assignment.objects.create(
        launch=launch, user=nora, duty=Duty.SIGNER, role=launch.roles.get(key="vp-engineering"),
        delegate_of=people["vera"], valid_until=timezone.now() + timedelta(days=1),
        reason="vera is travelling",
    )  # fmt: skip
    client.force_login(nora)
    assert decide(client, "no-go").status_code == 302
    assert LaunchDecision.objects.get().on_behalf_of == "Vera"


def test_a_launch_without_a_decision_role_refuses_everyone(client, spec):
    spec["launch"].update(slug="borealis", name="Borealis")
    del spec["launch"]["decision"]
    borealis = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    boss = make_user("boss")
    Assignment.objects.create(launch=borealis, user=boss, duty=Duty.SIGNER,
                              role=borealis.roles.get(key="vp-engineering"))  # fmt: skip
    client.force_login(boss)
    page = client.get("/launches/borealis/decision/").content.decode()
    assert "must name <code>launch.decision.role</code>" in page
    response = client.post("/launches/borealis/decision/",
                           {"step": "decide", "decision": "no-go", "attendees": "boss",
                            "password": PASSWORD})  # fmt: skip
    assert response.status_code == 403
    assert "names no decision role" in response.content.decode()
    assert not LaunchDecision.objects.exists()
