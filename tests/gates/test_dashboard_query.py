"""The gates' newest measurement and covering waiver, kept on the gate where measurements and
waivers are written: what the dashboard reads at no cost, on PostgreSQL and SQLite alike."""

import importlib
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from apps.gates.history import kept_points
from apps.gates.models import SPARK_POINTS, Evidence, Gate, Measurement, Waiver
from apps.gates.services import (
    Evaluation,
    Reading,
    record_reading,
    record_readings,
    refill_kept_columns,
    update_covering_waiver,
)
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db
KEPT = ("latest_id", "latest_evaluated_at", "latest_value", "latest_reason", "latest_evidence")


@pytest.fixture
def gates(spec):
    launch = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    gates = list(Gate.objects.filter(launch=launch).order_by("order"))
    assert len(gates) >= 3
    return gates


def _kept(gate: Gate) -> tuple:
    gate.refresh_from_db()
    return tuple(getattr(gate, name) for name in KEPT)


def _newest(gate: Gate) -> tuple:
    """The newest measurement as the ORM reads it (Measurement's ordering: NEWEST_FIRST)."""
    m = Measurement.objects.filter(gate=gate).first()
    return (
        (m.pk, m.evaluated_at, m.value, m.reason, m.evidence_id or "") if m else (None,) * 4 + ("",)
    )


def test_a_gate_keeps_its_newest_measurement(gates):
    gate, now = gates[0], timezone.now()
    assert _kept(gate) == (None, None, None, "", "")
    first = record_reading(gate=gate, reading=Reading(value=Decimal("12.345678")), actor="test",
                           at=now - timedelta(minutes=1))  # fmt: skip
    assert _kept(gate) == _newest(gate)
    assert gate.latest_id == first.pk and gate.latest_value == Decimal("12.345678")
    down = record_reading(gate=gates[1], reading=Reading(error="source down"), actor="test", at=now)
    assert _kept(gates[1])[:3] == (down.pk, now, None)
    assert "source down" in gates[1].latest_reason


def test_a_late_report_does_not_replace_the_newer_measurement(gates):
    gate, now = gates[0], timezone.now()
    newer = record_reading(gate=gate, reading=Reading(value=Decimal(90)), actor="test", at=now)
    record_reading(gate=gate, reading=Reading(value=Decimal(10)), actor="test",
                   at=now - timedelta(minutes=5))  # fmt: skip
    assert _kept(gate)[:3] == (newer.pk, now, Decimal(90))
    # At the same moment, the later row is the newer (evaluated_at, then id).
    same = record_reading(gate=gate, reading=Reading(value=Decimal(91)), actor="test", at=now)
    assert _kept(gate) == _newest(gate) and same.pk == gate.latest_id


def test_after_a_burst_of_mixed_order_writes_the_kept_measurement_is_the_newest(gates):
    now = timezone.now()
    evidence = Evidence.objects.create(sha256="a" * 64, size=1, path="a")
    rng = random.Random(21)  # noqa: S311 - a reproducible shuffle
    moments = [now - timedelta(minutes=rng.choice(range(30))) for _ in range(40)]
    for index, at in enumerate(moments):
        chosen = rng.sample(gates, rng.randint(1, len(gates)))
        readings = [
            Reading(value=Decimal(index), evidence=evidence if index % 3 else None)
            if index % 4 else Reading(error=f"down {index}")
            for _ in chosen
        ]  # fmt: skip
        if len(chosen) == 1:
            record_reading(gate=chosen[0], reading=readings[0], actor="test", at=at)
        else:
            evaluations = [Evaluation(g, r, at=at) for g, r in zip(chosen, readings, strict=True)]
            record_readings(evaluations, actor="test")
    for gate in gates:
        assert _kept(gate) == _newest(gate), gate.key
        assert _kept(gate)[0] is not None
        assert _kept_points(gate) == _newest_points(gate), gate.key
        assert len(gate.spark_points) == min(SPARK_POINTS, gate.measurements.count())


def _kept_points(gate: Gate) -> list:
    """What the gate's row draws: the points kept on it (kept_points), as stored."""
    return kept_points(Gate.objects.get(pk=gate.pk))


def _newest_points(gate: Gate) -> list:
    """The same read from its measurements (NEWEST_FIRST), as the values sparklines draw."""
    newest = reversed(Measurement.objects.filter(gate=gate)[:SPARK_POINTS])
    return [(None, None if m.value is None else float(m.value), m.status) for m in newest]


def test_a_late_reading_takes_its_place_among_the_kept_points(gates):
    gate, now = gates[0], timezone.now()
    for minutes in range(25, 0, -1):
        record_reading(gate=gate, reading=Reading(value=Decimal(minutes)), actor="test",
                       at=now - timedelta(minutes=minutes))  # fmt: skip
    late = record_reading(gate=gate, reading=Reading(value=Decimal("7.5")), actor="test",
                          at=now - timedelta(minutes=7, seconds=30))  # fmt: skip
    assert _kept_points(gate) == _newest_points(gate)
    assert (None, 7.5, late.status) in _kept_points(gate) and len(_kept_points(gate)) == 20
    record_reading(
        gate=gate, reading=Reading(value=Decimal(99)), actor="test", at=now - timedelta(hours=2)
    )  # older than every kept point: not drawn
    assert _kept_points(gate) == _newest_points(gate)


def test_refill_kept_columns_gives_what_the_writes_keep(gates, django_user_model):
    now = timezone.now()
    for minutes in range(30):
        record_readings([Evaluation(g, Reading(value=Decimal(minutes % 7)),
                                    at=now - timedelta(minutes=minutes)) for g in gates[:2]],
                        actor="test")  # fmt: skip
    signer = django_user_model.objects.create_user("w", "w@example.com", "x")
    Waiver.objects.create(gate=gates[1], reason="r", granted_by=signer, granted_at=now,
                          expires_at=now + timedelta(hours=3))  # fmt: skip
    update_covering_waiver(gate_id=gates[1].pk)
    columns = (*KEPT[1:], "latest_measurement_id", "spark_points", "covering_waiver_id")
    written = list(Gate.objects.order_by("pk").values_list(*columns))
    Gate.objects.update(latest_measurement=None, latest_value=None, latest_evaluated_at=None,
                        latest_reason="", spark_points=[], covering_waiver=None)  # fmt: skip

    refill_kept_columns(Gate.objects.all())

    assert list(Gate.objects.order_by("pk").values_list(*columns)) == written


def test_the_dashboard_reads_the_kept_columns_and_the_covering_waiver(gates, django_user_model):
    now = timezone.now()
    record_reading(gate=gates[0], reading=Reading(value=Decimal("99.5")), actor="test")
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
    for gate in gates:
        update_covering_waiver(gate_id=gate.pk)
    first, second, third = Gate.objects.filter(launch=gates[0].launch).for_dashboard(now)[:3]
    assert first.latest_value == Decimal("99.5") and first.waiver_id is None
    assert second.waiver_reason == "5 hours" and second.waiver_expires_at > now
    assert second.current_status(now)[0] == "waived"
    # The expired one is still the longest granted: kept, and covering nothing.
    assert third.covering_waiver.reason == "expired"
    assert third.latest_id is None and third.waiver_id is None and third.waiver_reason == ""
    later = now + timedelta(hours=6)
    second = Gate.objects.filter(pk=gates[1].pk).for_dashboard(later).get()
    assert second.waiver_id is None and second.current_status(later)[0] != "waived"
    assert Gate.objects.get(pk=gates[1].pk).current_status(later)[0] != "waived"


def test_the_data_migration_fills_the_kept_columns(gates, django_user_model):
    now = timezone.now()
    newest = record_reading(gate=gates[0], reading=Reading(value=Decimal(5)), actor="test")
    Measurement.objects.create(gate=gates[0], status="passing", value=1,
                               evaluated_at=now - timedelta(hours=1))  # fmt: skip
    signer = django_user_model.objects.create_user("w", "w@example.com", "x")
    waiver = Waiver.objects.create(gate=gates[1], reason="r", granted_by=signer, granted_at=now,
                                   expires_at=now + timedelta(hours=3))  # fmt: skip
    Gate.objects.update(latest_measurement=None, latest_value=None, covering_waiver=None)
    fill = importlib.import_module(
        "apps.gates.migrations.0006_fill_gate_newest_measurement_and_covering_waiver"
    ).fill
    fill(apps, None)
    assert _kept(gates[0]) == _newest(gates[0]) and gates[0].latest_id == newest.pk
    assert _kept(gates[2]) == (None, None, None, "", "")
    assert Gate.objects.get(pk=gates[1].pk).covering_waiver_id == waiver.pk
