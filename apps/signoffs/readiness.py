"""Readiness: GO-ready when every blocking gate is passing or waived and every required role
holds a valid approval. The portal recommends; people decide."""

from dataclasses import dataclass, field

from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Value

from apps.gates.models import Gate, GateRow, GateStatus
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
    signoffs: dict = field(default_factory=dict)  # role id -> its active sign-off, any decision

    @property
    def recommendation(self) -> str:
        return "go" if self.ready else "no-go"

    def as_dict(self) -> list[dict]:
        return [b.__dict__ for b in self.blockers]


def readiness(launch, now, *, gates=None, roles=None, signoffs=None) -> Readiness:
    """Three queries, fewer when the caller passes what it has loaded already: blocking gates
    with their newest state (the launch's for_dashboard() gates), roles, the active sign-offs."""
    blockers = []
    if gates is None:
        gates = Gate.objects.filter(launch=launch, blocking=True).for_dashboard(now)
    for gate in (g for g in gates if g.blocking):
        status, reason = gate.current_status(now)
        if status not in GOOD:
            blockers.append(Blocker("gate", gate.key, status, reason))
    if signoffs is None:
        signoffs = SignOff.objects.filter(launch=launch).active().briefly()
    active = {s.role_id: s for s in signoffs}
    approvals = {pk: s for pk, s in active.items() if s.is_approval and s.invalidated_at is None}
    if roles is None:
        roles = launch.roles.filter(retired_at__isnull=True)
    named = {}
    for role in roles:
        if role.pk in approvals:
            named[role.key] = approvals[role.pk]
        elif role.required and role.retired_at is None:
            blockers.append(_missing(role, active.get(role.pk)))
    return Readiness(ready=not blockers, blockers=blockers, approvals=named, signoffs=active)


def _missing(role, signoff) -> Blocker:
    """Why a required role holds no valid approval: never signed, rejected, or invalidated."""
    if signoff is None:
        return Blocker("signoff", role.key, "missing", f"{role.name} has not signed")
    if signoff.invalidated_at is not None:
        why = f"{role.name}'s approval was invalidated: {signoff.invalidated_reason}"
        return Blocker("signoff", role.key, "invalidated", why)
    return Blocker("signoff", role.key, "rejected", f"{role.name} rejected: {signoff.comment}")


def readiness_of_many(launches: list, now) -> dict[int, Readiness]:
    """Readiness of several launches in three queries, whatever their number."""
    from apps.signoffs.models import Role

    ids = [launch.pk for launch in launches]
    # Only the gates that may block, with only what current_status() reads: a gate passing on
    # fresh evidence is good whatever else holds, so it is not loaded at all.
    fresh = ExpressionWrapper(Value(now) - F("max_age"), output_field=DateTimeField())
    passing = Q(state=GateStatus.PASSING, last_measured_at__isnull=False,
                last_evidence_at__gte=fresh)  # fmt: skip
    blocking = Gate.objects.filter(launch_id__in=ids, blocking=True).active().exclude(passing)
    gates = GateRow.rows(blocking, now)
    # Only what the blockers and the approvals read (the launches list shows their numbers).
    roles = Role.objects.filter(launch_id__in=ids, retired_at__isnull=True, required=True).only(
        "launch_id", "key", "name"
    )
    approvals = (
        SignOff.objects.filter(launch_id__in=ids).active().select_related("role")
        .only("launch_id", "role_id", "role__key", "decision", "invalidated_at",
              "invalidated_reason", "comment")
    )  # fmt: skip
    by_launch: dict[int, Readiness] = {pk: Readiness(ready=True) for pk in ids}
    for gate in gates:
        status, reason = gate.current_status(now)
        if status not in GOOD:
            by_launch[gate.launch_id].blockers.append(Blocker("gate", gate.key, status, reason))
    for signoff in approvals:
        by_launch[signoff.launch_id].signoffs[signoff.role_id] = signoff
        if signoff.is_approval and signoff.invalidated_at is None:
            by_launch[signoff.launch_id].approvals[signoff.role.key] = signoff
    for role in roles:
        if role.key not in by_launch[role.launch_id].approvals:
            state = by_launch[role.launch_id]
            state.blockers.append(_missing(role, state.signoffs.get(role.pk)))
    for state in by_launch.values():
        state.ready = not state.blockers
    return by_launch
