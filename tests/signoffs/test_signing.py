"""Signing in the browser: what is recorded, and every way a signature is refused."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.models import Gate
from apps.launches.models import Launch
from apps.signoffs.models import Assignment, Duty, Role, SignOff
from apps.signoffs.services import sweep
from apps.signoffs.snapshot import take_snapshot
from tests.signoffs.conftest import PASSWORD, read
from tests.waivers import standing_waiver

pytestmark = pytest.mark.django_db
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"
SIGN_SRE = "/launches/atlas/signoffs/sre-lead/sign/"


def _open(client, url):
    response = client.get(url)
    assert response.status_code == 200
    form = response.context["form"]
    return {"digest": form.initial["digest"], "previous": form.initial["previous"]}


def _sign(client, url, seen, decision="approve", headers=None, **extra):
    data = {"decision": decision, "password": PASSWORD, "comment": "", **seen, **extra}
    return client.post(url, data, headers=headers or {})


def test_the_vp_signs_what_the_page_showed(client, people, all_passing):
    client.force_login(people["vera"])
    seen = _open(client, SIGN_VP)
    response = _sign(client, SIGN_VP, seen, headers={"User-Agent": "Firefox/140"})
    assert response.status_code == 302
    signoff = SignOff.objects.get()
    role = Role.objects.get(key="vp-engineering")
    assert signoff.digest == seen["digest"] == take_snapshot(role, timezone.now()).digest
    assert (signoff.printed_name, signoff.decision, signoff.user_agent) == (
        "Vera",
        "approve",
        "Firefox/140",
    )
    assert signoff.meaning == (
        f"I, Vera, as VP Engineering, approve the technical readiness of Atlas 2.0.0 as shown "
        f"in snapshot {seen['digest']}."
    )
    assert signoff.ip == "127.0.0.1"
    assert [g["key"] for g in signoff.snapshot["gates"]] == ["availability", "coverage"]
    event = AuditEvent.objects.get(action="signoff.signed")
    assert event.data["digest"] == seen["digest"]
    matrix = client.get("/launches/atlas/signoffs/").content.decode()
    assert "Approve" in matrix and "by Vera" in matrix


def test_the_evidence_changed_since_the_page_was_opened(client, people, all_passing):
    client.force_login(people["vera"])
    seen = _open(client, SIGN_VP)
    read("coverage", "92")  # a new measurement: a new snapshot
    response = _sign(client, SIGN_VP, seen)
    assert response.status_code == 409
    assert "the evidence changed since you opened this page" in response.content.decode()
    assert response.context["snapshot"].digest != seen["digest"]  # the new state is shown
    assert not SignOff.objects.exists()


def test_a_double_submit_signs_once(client, people, all_passing):
    client.force_login(people["vera"])
    seen = _open(client, SIGN_VP)
    assert _sign(client, SIGN_VP, seen).status_code == 302
    assert _sign(client, SIGN_VP, seen).status_code == 409
    assert SignOff.objects.count() == 1


def test_a_new_signature_supersedes_the_old_one(client, people, all_passing):
    client.force_login(people["vera"])
    _sign(client, SIGN_VP, _open(client, SIGN_VP), "reject", comment="not yet")
    assert _sign(client, SIGN_VP, _open(client, SIGN_VP)).status_code == 302
    old, new = SignOff.objects.order_by("id")
    assert old.superseded_at is not None and new.superseded_at is None
    assert (old.decision, new.decision) == ("reject", "approve")


def test_a_wrong_password_signs_nothing(client, people, all_passing):
    client.force_login(people["vera"])
    response = _sign(client, SIGN_VP, _open(client, SIGN_VP), password="guess")
    assert response.status_code == 400
    assert "That is not your password." in response.content.decode()
    assert not SignOff.objects.exists()


def test_a_rejection_needs_a_reason(client, people, all_passing):
    client.force_login(people["vera"])
    response = _sign(client, SIGN_VP, _open(client, SIGN_VP), "reject")
    assert response.status_code == 400
    assert "a rejection needs a reason" in response.content.decode()


def test_an_approval_with_conditions_records_them(client, people, all_passing):
    client.force_login(people["vera"])
    due = (timezone.now() + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M")
    response = _sign(client, SIGN_VP, _open(client, SIGN_VP), "approve_with_conditions",
                     condition_0="load test at 10x", owner_0="sam", due_0=due)  # fmt: skip
    assert response.status_code == 302
    condition = SignOff.objects.get().conditions.get()
    assert (condition.text, condition.owner) == ("load test at 10x", "sam")


@pytest.mark.parametrize("who", ["sam", "otto", "pat"])
def test_only_the_holder_may_sign_a_role(client, people, all_passing, who):
    client.force_login(people[who])
    assert client.get(SIGN_VP).status_code == 403
    seen = {"digest": "0" * 64, "previous": ""}
    assert _sign(client, SIGN_VP, seen).status_code == 403
    assert not SignOff.objects.exists()


def test_someone_not_on_the_launch_sees_nothing_of_it(client, people, all_passing):
    client.force_login(people["nora"])
    for url in (SIGN_VP, "/launches/atlas/signoffs/", "/launches/atlas/"):
        assert client.get(url).status_code == 404
    assert b"Atlas" not in client.get("/launches/").content


def test_an_anonymous_visitor_is_sent_to_log_in(client, people, all_passing):
    response = _sign(client, SIGN_VP, {"digest": "0" * 64, "previous": ""})
    assert response.status_code == 302 and "/accounts/login/" in response.url
    assert not SignOff.objects.exists()


def test_an_approval_is_refused_while_a_gate_in_scope_fails(client, people, all_passing):
    read("coverage", "70")
    client.force_login(people["vera"])
    response = _sign(client, SIGN_VP, _open(client, SIGN_VP))
    assert response.status_code == 409
    assert "coverage (failing" in response.content.decode()
    # Rejecting is always possible.
    assert (
        _sign(client, SIGN_VP, _open(client, SIGN_VP), "reject", comment="coverage").status_code
        == 302
    )


def test_signing_a_scope_holding_a_stale_gate_is_refused(client, people, all_passing):
    Gate.objects.filter(key="availability").update(
        last_evidence_at=timezone.now() - timedelta(days=1))  # fmt: skip
    client.force_login(people["vera"])
    response = _sign(client, SIGN_VP, _open(client, SIGN_VP))
    assert response.status_code == 409
    assert "availability (unknown: stale" in response.content.decode()


def test_a_signer_may_not_approve_over_their_own_waiver(client, people, all_passing):
    read("coverage", "70")
    standing_waiver(
        Gate.objects.get(key="coverage"),
        requested_by=people["vera"],
        approved_by=people["sam"],
        reason="legacy",
        expires_at=timezone.now() + timedelta(days=1),
    )
    client.force_login(people["vera"])
    response = _sign(client, SIGN_VP, _open(client, SIGN_VP))
    assert response.status_code == 403
    assert "you produced the current evidence of coverage" in response.content.decode()


def test_a_delegate_signs_on_behalf_within_the_window(client, people, all_passing, launch):
    role = Role.objects.get(key="vp-engineering")
    Assignment.objects.create(
        launch=launch, user=people["nora"], duty=Duty.SIGNER, role=role,
        delegate_of=people["vera"], reason="vera on leave",
        valid_until=timezone.now() + timedelta(days=2),
    )  # fmt: skip
    client.force_login(people["nora"])
    assert _sign(client, SIGN_VP, _open(client, SIGN_VP)).status_code == 302
    assert SignOff.objects.get().on_behalf_of == "Vera"
    Assignment.objects.filter(user=people["nora"]).update(
        valid_until=timezone.now() - timedelta(seconds=1))  # fmt: skip
    assert client.get(SIGN_VP).status_code == 404  # the window closed: no access at all


def _approve_both(client, people, capture):
    for who, url in (("vera", SIGN_VP), ("sam", SIGN_SRE)):
        client.force_login(people[who])
        with capture(execute=True):  # readiness is recomputed after commit
            assert _sign(client, url, _open(client, url)).status_code == 302


def test_a_regression_invalidates_exactly_the_approvals_covering_it(
    client, people, all_passing, django_capture_on_commit_callbacks
):
    _approve_both(client, people, django_capture_on_commit_callbacks)
    assert Launch.objects.get().ready_at is not None
    with django_capture_on_commit_callbacks(execute=True):
        read("coverage", "60")
    vp, sre = (SignOff.objects.get(role__key=k) for k in ("vp-engineering", "sre-lead"))
    assert vp.invalidated_gate == "coverage"
    assert vp.invalidated_reason == "gate coverage is failing: 60 is not >= 85"
    assert sre.invalidated_at is None
    assert Launch.objects.get().ready_at is None
    assert mail.outbox and set(mail.outbox[-1].to) == {"vera@example.com", "pat@example.com"}
    client.force_login(people["vera"])
    page = client.get("/launches/atlas/signoffs/").content.decode()
    assert "Invalidated" in page and "gate coverage is failing" in page


def test_the_launch_becomes_ready_once(
    client, people, all_passing, django_capture_on_commit_callbacks
):
    _approve_both(client, people, django_capture_on_commit_callbacks)
    assert AuditEvent.objects.filter(action="launch.ready").count() == 1
    client.force_login(people["vera"])
    with django_capture_on_commit_callbacks(execute=True):
        assert _sign(client, SIGN_VP, _open(client, SIGN_VP)).status_code == 302  # re-sign
    assert AuditEvent.objects.filter(action="launch.ready").count() == 1


def test_an_expired_waiver_invalidates_the_approval_it_relied_on(client, people, all_passing):
    read("coverage", "70")  # max_age one day: still fresh two hours later
    expires = timezone.now() + timedelta(hours=1)
    standing_waiver(
        Gate.objects.get(key="coverage"),
        requested_by=people["pat"],
        approved_by=people["sam"],
        reason="legacy",
        expires_at=expires,
    )
    Gate.objects.filter(key="availability").update(max_age=timedelta(days=1))
    client.force_login(people["vera"])
    assert _sign(client, SIGN_VP, _open(client, SIGN_VP)).status_code == 302
    assert sweep() == 0
    assert sweep(now=timezone.now() + timedelta(hours=2)) == 1
    assert SignOff.objects.get().invalidated_reason == ("gate coverage is failing: 70 is not >= 85")


def test_an_unmet_condition_lapses_the_approval_at_its_due_time(client, people, all_passing):
    client.force_login(people["vera"])
    due = (timezone.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    _sign(client, SIGN_VP, _open(client, SIGN_VP), "approve_with_conditions",
          condition_0="fix flaky test", owner_0="sam", due_0=due)  # fmt: skip
    assert sweep(now=timezone.now() + timedelta(hours=2)) == 1
    assert SignOff.objects.get().invalidated_reason == "condition lapsed unmet: fix flaky test"
