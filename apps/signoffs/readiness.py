"""Readiness: GO-ready when every blocking gate is passing or waived and every required role
holds a valid approval. The portal recommends; people decide."""

from dataclasses import dataclass, field

from apps.gates.models import Gate
from apps.signoffs.models import SignOff
from apps.signoffs.snapshot import GOOD


@dataclass(frozen=True)
class Blocker:
    kind: str  # "gate" or "signoff"
    key: str
    status: str
    reason: str


@dataclass
class Readiness:
    ready: bool
    blockers: list[Blocker] = field(default_factory=list)
    approvals: dict = field(default_factory=dict)  # role key -> the valid approval

    @property
    def recommendation(self) -> str:
        return "go" if self.ready else "no-go"

    def as_dict(self) -> list[dict]:
        return [b.__dict__ for b in self.blockers]


def readiness(launch, now) -> Readiness:
    """Three queries: blocking gates with their newest state, required roles, valid approvals."""
    blockers = []
    for gate in Gate.objects.filter(launch=launch, blocking=True).for_dashboard(now):
        status, reason = gate.current_status(now)
        if status not in GOOD:
            blockers.append(Blocker("gate", gate.key, status, reason))
    approvals = {
        s.role_id: s
        for s in SignOff.objects.filter(launch=launch).valid_approvals().select_related("role")
    }
    for role in launch.roles.filter(retired_at__isnull=True, required=True):
        if role.pk not in approvals:
            blockers.append(
                Blocker("signoff", role.key, "missing", f"{role.name} has not approved")
            )
    named = {s.role.key: s for s in approvals.values()} if approvals else {}
    return Readiness(ready=not blockers, blockers=blockers, approvals=named)
