"""Readiness for machines: a deploy pipeline blocks on it."""

from django.utils import timezone

from apps.signoffs.readiness import readiness
from apps.signoffs.snapshot import launch_digest


def readiness_document(launch, now=None) -> dict:
    """`{"ready", "recommendation", "blocking", "signoffs", "digest"}`, as the API answers."""
    now = now or timezone.now()
    state = readiness(launch, now)
    signoffs = {
        key: {
            "decision": s.decision,
            "signer": s.printed_name,
            "on_behalf_of": s.on_behalf_of,
            "signed_at": s.signed_at.isoformat(),
            "digest": s.digest,
        }
        for key, s in state.approvals.items()
    }
    return {
        "launch": launch.slug,
        "ready": state.ready,
        "recommendation": state.recommendation,
        "blocking": state.as_dict(),
        "signoffs": signoffs,
        "digest": launch_digest(launch, now).digest,
        "evaluated_at": now.isoformat(),
    }
