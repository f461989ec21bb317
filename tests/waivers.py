"""A waiver already asked for and approved, for tests about what relies on one (the two steps
themselves are tested in tests/signoffs/test_waivers_and_duties.py)."""

from django.utils import timezone

from apps.gates.models import Waiver
from apps.gates.services import update_covering_waiver


def standing_waiver(gate, *, requested_by, approved_by, expires_at, reason="legacy") -> Waiver:
    now = timezone.now()
    waiver = Waiver.objects.create(
        gate=gate, reason=reason, requested_by=requested_by,
        requested_by_name=requested_by.get_full_name(), requested_at=now,
        granted_by=approved_by, granted_by_name=approved_by.get_full_name(), granted_at=now,
        expires_at=expires_at,
    )  # fmt: skip
    update_covering_waiver(gate_id=gate.pk)
    return waiver
