"""What changed since a signature: the matrix and the sign page compare the snapshot a signer
signed with the scope as it stands, gate by gate."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.gates.models import Gate, Waiver
from apps.gates.services import update_covering_waiver
from apps.signoffs.changes import changes_since, signed_lookups
from apps.signoffs.models import Role, SignOff
from apps.signoffs.services import sweep
from tests.helpers import manual_gates
from tests.signoffs.conftest import PASSWORD, read
from tests.waivers import standing_waiver

pytestmark = pytest.mark.django_db
MATRIX = "/launches/atlas/signoffs/"
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"
SIGN_SRE = "/launches/atlas/signoffs/sre-lead/sign/"


def _sign(client, url):
    form = client.get(url).context["form"]
    seen = {"digest": form.initial["digest"], "previous": form.initial["previous"]}
    response = client.post(url, {"decision": "approve", "password": PASSWORD, **seen})
    assert response.status_code == 302


def _changes(now=None):
    signoff = SignOff.objects.active().get(role__key="vp-engineering")
    now = now or timezone.now()
    gates = list(Gate.objects.filter(launch_id=signoff.launch_id).for_dashboard(now))
    return changes_since(signoff, role=signoff.role, gates=gates, now=now,
                         signed=signed_lookups([signoff]))  # fmt: skip


def test_a_regression_shows_what_changed_on_the_matrix_and_the_sign_page(
    client, people, all_passing
):
    client.force_login(people["vera"])
    _sign(client, SIGN_VP)
    read("coverage", "60")

    (change,) = _changes()
    assert (change.key, change.status_then, change.status_now) == ("coverage", "passing", "failing")
    assert (change.value_then, change.value_now) == (Decimal("91"), Decimal("60"))
    assert not change.evidence_changed and not change.waiver_ended

    matrix = client.get(MATRIX).content.decode()
    assert "Invalidated" in matrix
    assert "Since the signature: 1 gate changed: coverage passing→failing, 91→60 %" in matrix

    page = client.get(SIGN_VP)
    assert [str(c) for c in page.context["changes"]] == ["coverage passing→failing, 91→60 %"]
    html = page.content.decode()
    assert "What changed since that signature" in html
    assert "91 % → 60 %" in html


def test_a_gate_re_measured_with_the_same_value_is_not_a_change(client, people, all_passing):
    client.force_login(people["vera"])
    _sign(client, SIGN_VP)
    read("coverage", "91")
    read("availability", "99.97")

    assert [str(c) for c in _changes()] == ["availability 99.95→99.97 %"]
    assert SignOff.objects.get().invalidated_at is None
    matrix = client.get(MATRIX).content.decode()
    assert "✓ Approved" in matrix and "1 gate changed: availability 99.95→99.97 %" in matrix


def test_an_expired_waiver_is_named(client, people, all_passing):
    read("coverage", "70")
    standing_waiver(
        Gate.objects.get(key="coverage"),
        requested_by=people["pat"],
        approved_by=people["sam"],
        reason="legacy",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    client.force_login(people["vera"])
    _sign(client, SIGN_VP)
    later = timezone.now() + timedelta(hours=2)
    Gate.objects.filter(key="availability").update(max_age=timedelta(days=1))
    assert sweep(now=later) == 1

    (change,) = _changes(now=later)
    assert (change.status_then, change.status_now, change.waiver_ended) == (
        "waived",
        "failing",
        "expired",
    )
    assert str(change) == "coverage waived→failing, waiver expired"


def test_a_revoked_waiver_is_named(client, people, all_passing):
    read("coverage", "70")
    standing_waiver(
        Gate.objects.get(key="coverage"),
        requested_by=people["pat"],
        approved_by=people["sam"],
        reason="legacy",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    client.force_login(people["vera"])
    _sign(client, SIGN_VP)
    Waiver.objects.update(revoked_at=timezone.now())
    update_covering_waiver(gate_id=Gate.objects.get(key="coverage").pk)  # as revoke_waiver does

    (change,) = _changes()
    assert change.waiver_ended == "revoked"


def test_a_gate_leaving_or_joining_the_scope_is_a_change(client, people, all_passing, launch):
    client.force_login(people["vera"])
    _sign(client, SIGN_VP)
    Gate.objects.filter(key="availability").update(retired_at=timezone.now())
    Role.objects.filter(key="vp-engineering").update(categories=["slo", "quality", "operations"])

    assert sorted(str(c) for c in _changes()) == [
        "availability left the scope",
        "runbooks added to the scope (passing)",
    ]


def _count(client) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(MATRIX).status_code == 200
    return len(ctx.captured_queries)


def test_the_matrix_costs_the_same_queries_however_many_signatures_changed(
    client, people, all_passing, launch
):
    client.force_login(people["vera"])
    before = _count(client)
    _sign(client, SIGN_VP)
    client.force_login(people["sam"])
    _sign(client, SIGN_SRE)
    manual_gates(launch, 10)
    read("coverage", "60")
    read("runbooks", "0")
    client.force_login(people["vera"])
    after = _count(client)
    page = client.get(MATRIX).content.decode()
    assert page.count("Since the signature:") == 2
    assert after <= before + 2  # the values and the waivers signed over
    assert after <= 12, after
