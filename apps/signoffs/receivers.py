"""Receivers of the gates app's signals (apps/gates/signals.py), connected in
SignoffsConfig.ready(): the sign-offs that a gate's status or evidence undoes, invalidated in the
transaction that changed it."""

from apps.signoffs.services import invalidate_conflicts, invalidate_for_gate


def invalidate_when_status_left_passing(sender, *, gate, status, reason, now, actor, **kwargs):
    invalidate_for_gate(gate=gate, status=status, reason=reason, now=now, actor=actor)


def invalidate_when_evidence_produced(sender, *, gate, user, what, now, actor, **kwargs):
    invalidate_conflicts(gate=gate, user=user, what=what, now=now, actor=actor)
