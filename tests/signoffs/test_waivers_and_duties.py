"""Waivers people can rely on, and separation of duties (RELIABILITY case 24), over HTTP as the
people of tests/signoffs/conftest.py: vera holds VP Engineering (slo, quality; the launch's
decision role), quinn holds it too, sam holds SRE Lead (operations), pat is the program manager,
nora is assigned to nothing."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.models import Gate, GateStatus, Waiver
from apps.launches.models import Launch
from apps.signoffs.models import Assignment, Duty, Role, SignOff
from apps.signoffs.waivers import (
    WaiverRefused,
    approve_waiver,
    refuse_waiver,
    request_waiver,
    revoke_waiver,
    warn_expiring_waivers,
)
from tests.signoffs.conftest import PASSWORD, make_user, read

pytestmark = pytest.mark.django_db
COVERAGE = "/launches/atlas/gates/coverage/"
RUNBOOKS = "/launches/atlas/gates/runbooks/"
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"
SIGN_SRE = "/launches/atlas/signoffs/sre-lead/sign/"


@pytest.fixture
def quinn(launch, people):
    quinn = make_user("quinn")
    Assignment.objects.create(launch=launch, user=quinn, duty=Duty.SIGNER,
                              role=Role.objects.get(key="vp-engineering"))  # fmt: skip
    return quinn


def _until(**delta) -> str:
    return (timezone.now() + timedelta(**delta)).strftime("%Y-%m-%dT%H:%M")


def _request(client, person, gate_url=COVERAGE, reason="legacy module, fixed in 1.1", **delta):
    client.force_login(person)
    return client.post(f"{gate_url}waive/", {"reason": reason, "expires_at": _until(**delta)})


def _act(client, person, waiver, action, reason=""):
    client.force_login(person)
    url = f"/launches/atlas/gates/{waiver.gate.key}/waivers/{waiver.pk}/{action}/"
    return client.post(url, {"reason": reason})


def _status(key: str) -> str:
    return Gate.objects.get(key=key).current_status()[0]


def _open(client, url):
    form = client.get(url).context["form"]
    return {"digest": form.initial["digest"], "previous": form.initial["previous"]}


def _sign(client, url, decision="approve", comment=""):
    seen = _open(client, url)
    data = {"decision": decision, "password": PASSWORD, "comment": comment, **seen}
    return client.post(url, data)


# --- two people for a blocking gate -------------------------------------------------------------


def test_a_blocking_gates_waiver_is_pending_until_a_second_person_approves(
    client, people, quinn, all_passing
):
    read("coverage", "70")
    assert _request(client, people["vera"], days=3).status_code == 302

    waiver = Waiver.objects.get()
    assert waiver.state(timezone.now()) == "pending"
    assert _status("coverage") == GateStatus.FAILING  # a request counts for nothing
    page = client.get(COVERAGE).content.decode()
    assert "pending" in page and "Waiting for another person" in page
    overview = client.get("/launches/atlas/").content.decode()
    assert "Waiting for a second person" in overview and "legacy module" in overview

    assert _act(client, quinn, waiver, "approve").status_code == 302
    assert _status("coverage") == GateStatus.WAIVED
    actions = list(AuditEvent.objects.filter(action__startswith="waiver.").values_list(
        "action", "actor_name"))  # fmt: skip
    assert actions == [("waiver.requested", "Vera"), ("waiver.approved", "Quinn")]


def test_nobody_approves_their_own_waiver(client, people, all_passing):
    read("coverage", "70")
    _request(client, people["vera"], days=3)
    waiver = Waiver.objects.get()

    response = _act(client, people["vera"], waiver, "approve")

    assert response.status_code == 403
    assert "another person must decide on it" in response.content.decode()
    assert Waiver.objects.get().granted_at is None
    assert _status("coverage") == GateStatus.FAILING
    assert not AuditEvent.objects.filter(action="waiver.approved").exists()


@pytest.mark.parametrize("who", ["pat", "sam", "nora"])
def test_only_a_holder_of_a_covering_or_the_decision_role_approves(client, people, who,
                                                                   all_passing):  # fmt: skip
    read("coverage", "70")
    _request(client, people["vera"], days=3)

    response = _act(client, people[who], Waiver.objects.get(), "approve")

    assert response.status_code in (403, 404)
    assert Waiver.objects.get().granted_at is None


def test_the_decision_role_may_approve_a_waiver_outside_its_scope(client, people, all_passing):
    read("availability", "99.0")
    Launch.objects.update(decision_role="sre-lead")  # sam decides; slo is vera's scope
    _request(client, people["vera"], gate_url="/launches/atlas/gates/availability/", days=2)

    assert _act(client, people["sam"], Waiver.objects.get(), "approve").status_code == 302
    assert _status("availability") == GateStatus.WAIVED


def test_a_refusal_needs_a_reason_and_is_kept(client, people, quinn, all_passing):
    read("coverage", "70")
    _request(client, people["vera"], days=3)
    waiver = Waiver.objects.get()

    assert _act(client, quinn, waiver, "refuse").status_code == 400
    assert _act(client, quinn, waiver, "refuse", reason="fix it instead").status_code == 302

    waiver.refresh_from_db()
    assert (waiver.state(timezone.now()), waiver.refusal_reason) == ("refused", "fix it instead")
    assert _act(client, quinn, waiver, "approve").status_code == 409
    assert _status("coverage") == GateStatus.FAILING


def test_a_non_blocking_gate_is_waived_in_one_step(client, people, all_passing):
    read_failing_runbooks(people)
    assert _request(client, people["sam"], gate_url=RUNBOOKS, days=2).status_code == 302
    assert Waiver.objects.get().state(timezone.now()) == "active"
    assert _status("runbooks") == GateStatus.WAIVED


def read_failing_runbooks(people):
    from apps.gates.services import Reading, record_reading

    record_reading(gate=Gate.objects.get(key="runbooks"), reading=Reading(error="attestation "
                   "withdrawn"), actor="test")  # fmt: skip


# --- bounded in time ----------------------------------------------------------------------------


def test_a_waiver_longer_than_the_launch_allows_is_refused_naming_the_limit(
    client, people, all_passing
):
    read("coverage", "70")
    response = _request(client, people["vera"], days=45)

    assert response.status_code == 400
    assert "the longest waiver this launch allows is 30 days" in response.content.decode()
    assert not Waiver.objects.exists()


def test_the_launch_sets_its_own_limit_and_t_plus_24h_bounds_every_waiver(people, all_passing):
    launch = Launch.objects.get()
    gate = Gate.objects.get(key="coverage")
    Launch.objects.update(waiver_max_days=5)
    gate.launch.refresh_from_db()
    with pytest.raises(WaiverRefused, match="5 days"):
        request_waiver(gate=gate, user=people["vera"], reason="x",
                       expires_at=timezone.now() + timedelta(days=6))  # fmt: skip
    Launch.objects.update(waiver_max_days=3650, target_t0=timezone.now() + timedelta(days=2))
    gate.launch.refresh_from_db()
    with pytest.raises(WaiverRefused, match=r"past T\+24h"):
        request_waiver(gate=gate, user=people["vera"], reason="x",
                       expires_at=timezone.now() + timedelta(days=4))  # fmt: skip
    Launch.objects.update(waivers_outlast_launch=True)
    gate.launch.refresh_from_db()
    request_waiver(gate=gate, user=people["vera"], reason="x",
                   expires_at=timezone.now() + timedelta(days=4))  # fmt: skip
    assert Waiver.objects.count() == 1
    assert launch.pk == gate.launch_id


def test_9999_12_31_is_refused(people, all_passing):
    gate = Gate.objects.get(key="coverage")
    far = timezone.now().replace(year=9999, month=12, day=31)
    with pytest.raises(WaiverRefused, match="30 days"):
        request_waiver(gate=gate, user=people["vera"], reason="forever", expires_at=far)


# --- revoked at once ----------------------------------------------------------------------------


def test_revoking_a_waiver_makes_the_gate_and_the_approvals_on_it_follow_at_once(
    client, people, quinn, all_passing
):
    read("coverage", "70")
    _request(client, people["vera"], days=3)
    waiver = Waiver.objects.get()
    _act(client, quinn, waiver, "approve")
    Gate.objects.filter(key="runbooks").update(category="slo")  # keeps the SRE scope unattested
    client.force_login(people["sam"])
    # sam's own scope does not hold coverage; make him sign the VP's scope as a second holder.
    Assignment.objects.create(launch=waiver.gate.launch, user=people["nora"], duty=Duty.SIGNER,
                              role=Role.objects.get(key="vp-engineering"))  # fmt: skip
    client.force_login(people["nora"])
    assert _sign(client, SIGN_VP).status_code == 302
    assert SignOff.objects.get().is_valid

    assert _act(client, people["nora"], waiver, "revoke", "x").status_code == 403  # not hers
    assert _act(client, people["vera"], waiver, "revoke").status_code == 400  # no reason
    assert _act(client, people["vera"], waiver, "revoke", "fixed differently").status_code == 302

    assert _status("coverage") == GateStatus.FAILING
    signoff = SignOff.objects.get()
    assert signoff.invalidated_at is not None
    assert "coverage is failing" in signoff.invalidated_reason
    event = AuditEvent.objects.get(action="waiver.revoked")
    assert (event.actor_name, event.data["reason"]) == ("Vera", "fixed differently")


def test_a_launch_admin_may_revoke_any_waiver(client, people, quinn, all_passing):
    read("coverage", "70")
    _request(client, people["vera"], days=3)
    _act(client, quinn, Waiver.objects.get(), "approve")
    Assignment.objects.create(launch=Launch.objects.get(), user=people["otto"], duty=Duty.ADMIN)

    assert _act(client, people["otto"], Waiver.objects.get(), "revoke", "audit").status_code == 302
    assert _status("coverage") == GateStatus.FAILING


# --- warnings and the expiry email --------------------------------------------------------------


def test_a_waiver_ending_before_t0_is_warned_about_on_the_overview_gate_and_sign_pages(
    client, people, quinn, all_passing
):
    read("coverage", "70")
    _request(client, people["vera"], days=3)  # T-0 is in March 2027
    _act(client, quinn, Waiver.objects.get(), "approve")

    client.force_login(people["nora"])
    Assignment.objects.create(launch=Launch.objects.get(), user=people["nora"],
                              duty=Duty.PROGRAM_MANAGER)  # fmt: skip
    for url in ("/launches/atlas/", COVERAGE):
        assert "before T-0" in client.get(url).content.decode(), url
    client.force_login(quinn)
    assert "before T-0" in client.get(SIGN_VP).content.decode()


def test_the_requester_and_the_pm_are_emailed_once_48_hours_before_expiry(
    people, quinn, all_passing
):
    read("coverage", "70")
    gate = Gate.objects.get(key="coverage")
    waiver = request_waiver(gate=gate, user=people["vera"], reason="legacy",
                            expires_at=timezone.now() + timedelta(days=3))  # fmt: skip
    from apps.signoffs.waivers import approve_waiver

    approve_waiver(waiver=waiver, user=quinn)
    mail.outbox.clear()

    assert warn_expiring_waivers() == 0  # three days away
    later = timezone.now() + timedelta(days=1, hours=2)
    assert warn_expiring_waivers(now=later) == 1
    assert warn_expiring_waivers(now=later) == 0
    (message,) = mail.outbox
    assert sorted(message.to) == ["pat@example.com", "vera@example.com"]
    assert "Coverage" in message.subject and "ends" in message.subject


# --- separation of duties -----------------------------------------------------------------------


def test_attest_then_approve_is_refused_and_the_page_says_so_first(client, people, all_passing):
    client.force_login(people["sam"])
    response = client.post(f"{RUNBOOKS}attest/", {"comment": "I ran them"})
    assert response.status_code == 302

    page = client.get(SIGN_SRE).content.decode()
    assert "You cannot approve this scope" in page and "runbooks" in page
    response = _sign(client, SIGN_SRE)
    assert response.status_code == 403
    assert "you produced the current evidence of runbooks" in response.content.decode()
    assert not SignOff.objects.exists()
    # A rejection is always allowed.
    assert _sign(client, SIGN_SRE, decision="reject", comment="not yet").status_code == 302


def test_approving_a_waiver_bars_the_approver_from_approving_the_scope(
    client, people, quinn, all_passing
):
    read("coverage", "70")
    _request(client, people["vera"], days=3)
    _act(client, quinn, Waiver.objects.get(), "approve")

    for person in (people["vera"], quinn):  # the requester and the approver
        client.force_login(person)
        response = _sign(client, SIGN_VP)
        assert response.status_code == 403
        assert "coverage" in response.content.decode()
    assert not SignOff.objects.exists()


def test_attesting_after_approving_invalidates_the_approval(client, people, all_passing):
    client.force_login(people["sam"])
    assert _sign(client, SIGN_SRE).status_code == 302
    assert SignOff.objects.get().is_valid

    assert client.post(f"{RUNBOOKS}attest/", {"comment": "again"}).status_code == 302

    signoff = SignOff.objects.get()
    assert signoff.invalidated_at is not None
    assert "produced the evidence of gate runbooks" in signoff.invalidated_reason


# --- the waiver that covers a gate, kept on the gate ----------------------------------------------


def _covering(at) -> str:
    """The reason of the waiver covering coverage at `at`, as pages read it ("" for none)."""
    return Gate.objects.filter(key="coverage").for_dashboard(at).get().waiver_reason


def test_the_longest_granted_unrevoked_waiver_covers_until_it_ends(people, quinn, all_passing):
    read("coverage", "70")
    gate, now = Gate.objects.get(key="coverage"), timezone.now()

    def granted(reason, **delta):
        asked = request_waiver(gate=gate, user=people["vera"], reason=reason,
                               expires_at=now + timedelta(**delta), now=now)  # fmt: skip
        return approve_waiver(waiver=asked, user=quinn, now=now)

    short, longer = granted("short", days=2), granted("longer", days=4)
    assert _covering(now) == "longer"
    asked = request_waiver(gate=gate, user=people["vera"], reason="refused",
                           expires_at=now + timedelta(days=6), now=now)  # fmt: skip
    refuse_waiver(waiver=asked, user=quinn, reason="no", now=now)
    assert _covering(now) == "longer"  # a pending or refused request covers nothing
    revoke_waiver(waiver=longer, user=people["vera"], reason="fixed sooner", now=now)
    assert _covering(now) == "short"
    assert Gate.objects.get(key="coverage").current_status(now)[0] == GateStatus.WAIVED
    # No granted waiver runs longer than the kept one: once it ends, none covers.
    ended = short.expires_at + timedelta(seconds=1)
    assert _covering(ended) == "" and _covering(short.expires_at) == ""
    assert Gate.objects.get(key="coverage").current_status(ended)[0] != GateStatus.WAIVED
    assert Gate.objects.get(key="coverage").covering_waiver_id == short.pk
