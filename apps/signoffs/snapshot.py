"""What a signature covers: the gates of a role's scope, as they stand, and their digest."""

import hashlib
from dataclasses import dataclass

from django.db.models import Q

from apps.audit.services import canonical_json
from apps.gates.models import Gate, GateStatus, Measurement, Source, Waiver
from apps.signoffs.models import Role

GOOD = (GateStatus.PASSING, GateStatus.WAIVED)


@dataclass(frozen=True)
class ScopedGate:
    gate: Gate
    status: str
    reason: str


@dataclass(frozen=True)
class Snapshot:
    role: Role
    gates: list[ScopedGate]
    data: dict
    digest: str

    def produced_by(self, user) -> list[ScopedGate]:
        """Gates of the scope whose current evidence `user` produced: the newest attestation of
        a manual gate, or the waiver it stands on, which they requested or approved. Whoever
        produced a gate's evidence may not approve a scope that holds it (two queries at most)."""
        attestations = {g.gate.latest_id for g in self.gates if g.gate.source == Source.MANUAL}
        waivers = {g.gate.waiver_id for g in self.gates if g.status == GateStatus.WAIVED}
        attested, waived = set(), set()
        if attestations - {None}:
            attested = set(
                Measurement.objects.filter(pk__in=attestations - {None})
                .filter(source_detail__user_id=user.pk)
                .values_list("pk", flat=True)
            )
        if waivers:
            waived = set(
                Waiver.objects.filter(pk__in=waivers)
                .filter(Q(requested_by=user) | Q(granted_by=user))
                .values_list("pk", flat=True)
            )
        return [
            g
            for g in self.gates
            if g.gate.latest_id in attested
            or (g.status == GateStatus.WAIVED and g.gate.waiver_id in waived)
        ]

    def not_good(self, *, blocking_only: bool = True) -> list[ScopedGate]:
        """Gates of the scope that are neither passing nor waived."""
        return [
            g for g in self.gates if g.status not in GOOD and (g.gate.blocking or not blocking_only)
        ]


def scope_gates(role: Role, now):
    """The active gates whose category the role's signature covers, with status annotations."""
    return (
        Gate.objects.filter(launch_id=role.launch_id, category__in=role.categories)
        .for_dashboard(now)
        .select_related("launch")
    )


def take_snapshot(role: Role, now) -> Snapshot:
    """The role's scope now, and the SHA-256 of its canonical JSON (what a signer signs)."""
    gates = []
    entries = []
    for gate in scope_gates(role, now):
        status, reason = gate.current_status(now)
        gates.append(ScopedGate(gate, status, reason))
        entries.append({
            "key": gate.key,
            "status": status,
            "measurement": gate.latest_id,
            "evidence": gate.latest_evidence or "",
            "waiver": gate.waiver_id if status == GateStatus.WAIVED else None,
        })  # fmt: skip
    data = {"launch": role.launch.slug, "role": role.key, "gates": entries}
    digest = hashlib.sha256(canonical_json(data).encode()).hexdigest()
    return Snapshot(role=role, gates=gates, data=data, digest=digest)


@dataclass(frozen=True)
class LaunchDigest:
    digest: str
    roles: dict[str, str]  # role key -> that role's snapshot digest


def launch_digest(launch, now) -> LaunchDigest:
    """SHA-256 over every role's snapshot digest: the state of the whole launch's evidence."""
    roles = {
        role.key: take_snapshot(role, now).digest
        for role in launch.roles.filter(retired_at__isnull=True)
    }
    digest = hashlib.sha256(canonical_json({"launch": launch.slug, "roles": roles}).encode())
    return LaunchDigest(digest=digest.hexdigest(), roles=roles)
