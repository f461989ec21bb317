"""The gates' newest measurement and active waiver: PostgreSQL's written-out subqueries and the
ORM's (which SQLite uses) annotate the same values."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.gates import models
from apps.gates.models import Gate, Waiver
from apps.gates.services import Reading, record_reading
from apps.launches.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db
FIELDS = ("latest_id", "latest_evidence", "latest_value", "latest_reason", "waiver_id",
          "waiver_granted_by", "waiver_expires_at", "waiver_reason")  # fmt: skip


@pytest.fixture
def gates(spec, django_user_model):
    launch = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    gates = list(Gate.objects.filter(launch=launch).order_by("order"))
    assert len(gates) >= 3
    now = timezone.now()
    record_reading(gate=gates[0], reading=Reading(value=Decimal("99.5")), actor="test",
                   at=now - timedelta(minutes=5))  # fmt: skip
    record_reading(gate=gates[0], reading=Reading(value=Decimal("12.345678")), actor="test",
                   at=now - timedelta(minutes=1))  # fmt: skip
    record_reading(gate=gates[1], reading=Reading(error="source down"), actor="test", at=now)
    signer = django_user_model.objects.create_user("w", "w@example.com", "x")
    for hours, revoked in ((2, None), (5, None), (9, now)):  # the longest unrevoked one counts
        Waiver.objects.create(gate=gates[1], reason=f"{hours} hours", granted_by=signer,
                              granted_by_name="W", granted_at=now, revoked_at=revoked,
                              expires_at=now + timedelta(hours=hours))  # fmt: skip
    Waiver.objects.create(gate=gates[2], reason="expired", granted_by=signer,
                          granted_by_name="W", granted_at=now - timedelta(days=2),
                          requested_at=now - timedelta(days=2),
                          expires_at=now - timedelta(days=1))  # fmt: skip
    # Pending (never approved) and refused requests count for nothing either.
    Waiver.objects.create(gate=gates[2], reason="pending", expires_at=now + timedelta(hours=20))
    Waiver.objects.create(gate=gates[2], reason="refused", refused_at=now,
                          expires_at=now + timedelta(hours=30))  # fmt: skip
    return gates


def test_written_out_and_orm_subqueries_agree(gates, monkeypatch):
    now = timezone.now()
    written = list(Gate.objects.filter(launch=gates[0].launch).for_dashboard(now))
    monkeypatch.setattr(models.GateQuerySet, "_postgresql", lambda self: False)
    orm = list(Gate.objects.filter(launch=gates[0].launch).for_dashboard(now))
    assert [g.pk for g in written] == [g.pk for g in orm]
    for a, b in zip(written, orm, strict=True):
        assert [getattr(a, f) for f in FIELDS] == [getattr(b, f) for f in FIELDS], a.key
    first, second, third = written[:3]
    assert first.latest_value == Decimal("12.345678") and first.waiver_id is None
    assert second.latest_value is None and "source down" in second.latest_reason
    assert second.waiver_reason == "5 hours" and second.waiver_expires_at > now
    assert third.latest_id is None and third.waiver_id is None
