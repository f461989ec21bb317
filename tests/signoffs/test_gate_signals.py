"""The gates app calls no app above it: a status leaving passing and evidence a person produced
reach the sign-offs through two signals (apps/gates/signals.py), sent inside the writer's
transaction. If the sign-offs stopped hearing one, approvals would silently hold."""

import pytest

from apps.gates import signals
from apps.signoffs import receivers

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("signal", "receiver"),
    [(signals.status_left_passing, "invalidate_when_status_left_passing"),
     (signals.evidence_produced, "invalidate_when_evidence_produced")],
)  # fmt: skip
def test_each_signal_of_the_gates_has_the_sign_offs_receiver_and_only_it(signal, receiver):
    heard = [ref() if callable(ref) and not hasattr(ref, "__name__") else ref
             for _, ref, *_ in signal.receivers]  # fmt: skip
    assert heard == [getattr(receivers, receiver)]
