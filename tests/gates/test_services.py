"""Recording readings: the gate's state, its history, staleness, the flapping guard, waivers."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.models import Gate, GateStatus, Measurement, StatusChange
from apps.gates.services import Reading, attest, record_reading
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db
NOW = timezone.now()


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


@pytest.fixture
def coverage(launch) -> Gate:
    return Gate.objects.get(key="coverage")  # >= 85 %, max_age 1 day


@pytest.fixture
def alice():
    return get_user_model().objects.create_user("alice", "alice@example.com", "pw")


def _read(gate, value=None, error="", at=None, **kw):
    reading = Reading(value=None if value is None else Decimal(value), error=error)
    return record_reading(gate=gate, reading=reading, actor="test", at=at, **kw)


def test_a_reading_is_judged_by_the_rule_and_stored(coverage):
    m = _read(coverage, "90.5")
    coverage.refresh_from_db()
    assert (m.status, m.value) == (GateStatus.PASSING, Decimal("90.5"))
    assert coverage.current_status() == (GateStatus.PASSING, "")
    m = _read(coverage, "80")
    coverage.refresh_from_db()
    assert m.reason == "80 is not >= 85"
    assert coverage.current_status() == (GateStatus.FAILING, "80 is not >= 85")


def test_an_error_is_unknown_never_passing(coverage):
    _read(coverage, "90")
    _read(coverage, error="connection refused")
    coverage.refresh_from_db()
    assert coverage.current_status() == (GateStatus.UNKNOWN, "connection refused")


def test_each_change_of_state_is_a_row_and_an_audit_event(coverage):
    _read(coverage, "90")
    _read(coverage, "91")
    _read(coverage, "70")
    changes = list(StatusChange.objects.filter(gate=coverage).order_by("at", "id"))
    assert [(c.from_status, c.to_status) for c in changes] == [
        ("pending", "passing"),
        ("passing", "failing"),
    ]
    events = AuditEvent.objects.filter(action="gate.status_changed", object_key="coverage")
    assert [e.data["to"] for e in events] == ["passing", "failing"]


def test_the_flapping_guard_waits_for_n_agreeing_readings(coverage):
    Gate.objects.filter(pk=coverage.pk).update(for_count=3)
    coverage.refresh_from_db()
    _read(coverage, "90")  # the first reading counts at once
    for value in ("70", "70"):
        _read(coverage, value)
        coverage.refresh_from_db()
        assert coverage.state == GateStatus.PASSING
    _read(coverage, "90")  # breaks the streak
    _read(coverage, "70")
    _read(coverage, "70")
    coverage.refresh_from_db()
    assert coverage.state == GateStatus.PASSING
    _read(coverage, "70")
    coverage.refresh_from_db()
    assert coverage.state == GateStatus.FAILING


def test_failing_polls_make_a_guarded_gate_unknown_at_once(coverage):
    Gate.objects.filter(pk=coverage.pk).update(for_count=3)
    coverage.refresh_from_db()
    _read(coverage, "90", at=NOW - timedelta(days=2))
    # Every poll since has failed: the guard holds "passing", but the evidence is old.
    for hours in (30, 1):
        _read(coverage, error="timed out", at=NOW - timedelta(hours=hours))
    coverage.refresh_from_db()
    # An error is unknown at once, whatever the guard says (RELIABILITY case 22).
    assert coverage.state == GateStatus.UNKNOWN
    assert coverage.current_status(NOW) == (GateStatus.UNKNOWN, "timed out")


def test_a_stale_gate_returns_to_passing_only_after_a_fresh_success(coverage):
    _read(coverage, "90", at=NOW - timedelta(days=2))
    coverage.refresh_from_db()
    assert coverage.current_status(NOW) == (
        GateStatus.UNKNOWN,
        "stale: no fresh evidence within max_age",
    )
    _read(coverage, "90", at=NOW)
    coverage.refresh_from_db()
    assert coverage.current_status(NOW)[0] == GateStatus.PASSING


def test_a_slot_is_measured_once(launch):
    gate = Gate.objects.get(key="availability")
    slot = NOW.replace(microsecond=0)
    assert _read(gate, "99.95", slot=slot) is not None
    assert _read(gate, "99.95", slot=slot) is None
    assert Measurement.objects.filter(gate=gate).count() == 1


def test_an_attestation_passes_a_manual_gate_until_max_age(launch, alice):
    gate = Gate.objects.get(key="runbooks")  # max_age 30 days
    m = attest(gate=gate, user=alice, comment="all 12 runbooks executed on staging")
    gate.refresh_from_db()
    assert m.source_detail["attested_by"] == "alice"
    assert gate.current_status()[0] == GateStatus.PASSING
    assert gate.current_status(NOW + timedelta(days=31))[0] == GateStatus.UNKNOWN
    assert AuditEvent.objects.filter(action="gate.attested", object_key="runbooks").exists()


def test_only_manual_gates_are_attested(coverage, alice):
    with pytest.raises(ValueError, match="only manual gates"):
        attest(gate=coverage, user=alice, comment="trust me")
