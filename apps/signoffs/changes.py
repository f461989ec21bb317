"""What changed since a signature: the snapshot the signer signed against the scope as it stands.

A sign-off stores the snapshot it signed (gate keys, statuses, measurement ids, evidence hashes,
waiver ids); measurements and waivers are never deleted, so the values and waivers signed over are
read back exactly from those ids.
"""

from dataclasses import dataclass
from decimal import Decimal

from apps.gates.models import GateStatus, Measurement, Waiver, format_decimal


@dataclass(frozen=True)
class GateChange:
    """One gate of a role's scope that differs now from the snapshot signed."""

    key: str
    status_then: str  # "" when the gate was not in the scope then
    status_now: str  # "" when the gate is no longer in the scope
    value_then: Decimal | None
    value_now: Decimal | None
    unit: str
    evidence_changed: bool
    waiver_ended: str  # "", "expired" or "revoked": the waiver the signature relied on

    @property
    def status_changed(self) -> bool:
        return self.status_then != self.status_now

    @property
    def value_changed(self) -> bool:
        return self.value_then != self.value_now

    def value_text(self, value: Decimal | None) -> str:
        return f"{format_decimal(value)} {self.unit}".strip() if value is not None else "—"

    @property
    def value_then_text(self) -> str:
        return self.value_text(self.value_then)

    @property
    def value_now_text(self) -> str:
        return self.value_text(self.value_now)

    def __str__(self) -> str:
        """The change in a few words: 'availability passing→failing, 99.95→97 %'."""
        if not self.status_then:
            return f"{self.key} added to the scope ({self.status_now})"
        if not self.status_now:
            return f"{self.key} left the scope"
        parts = []
        if self.status_changed:
            parts.append(f"{self.status_then}→{self.status_now}")
        if self.value_changed:
            parts.append(f"{format_decimal(self.value_then) or '—'}→{self.value_now_text}")
        if self.waiver_ended:
            parts.append(f"waiver {self.waiver_ended}")
        if self.evidence_changed and not parts:
            parts.append("new evidence")
        return f"{self.key} {', '.join(parts)}"


@dataclass(frozen=True)
class Signed:
    """The measurement values and waivers that signed snapshots refer to, by id."""

    values: dict[int, Decimal | None]
    waivers: dict[int, tuple]  # id -> (expires_at, revoked_at)


def signed_lookups(signoffs) -> Signed:
    """Two queries, whatever the number of sign-offs and gates (none when there is nothing)."""
    measurement_ids, waiver_ids = set(), set()
    for signoff in signoffs:
        for entry in signoff.snapshot.get("gates", []):
            if entry.get("measurement"):
                measurement_ids.add(entry["measurement"])
            if entry.get("waiver"):
                waiver_ids.add(entry["waiver"])
    values = dict(
        Measurement.objects.filter(pk__in=measurement_ids).values_list("pk", "value")
        if measurement_ids
        else []
    )
    waivers = {
        pk: (expires, revoked)
        for pk, expires, revoked in (
            Waiver.objects.filter(pk__in=waiver_ids).values_list("pk", "expires_at", "revoked_at")
            if waiver_ids
            else []
        )
    }
    return Signed(values=values, waivers=waivers)


def changes_since(signoff, *, role, gates, now, signed: Signed) -> list[GateChange]:
    """The gates of `role`'s scope that differ now from the snapshot `signoff` signed.

    `gates` are the launch's (or the scope's) gates from Gate.objects.for_dashboard(now); a gate
    only re-measured with the same value and evidence is not a change. No queries.
    """
    then = {entry["key"]: entry for entry in signoff.snapshot.get("gates", [])}
    scope = [g for g in gates if g.category in role.categories]
    changes = [_change(then.pop(g.key, None), g, now, signed) for g in scope]
    changes += [_change(entry, None, now, signed) for entry in then.values()]
    return [c for c in changes if c is not None]


def _change(entry: dict | None, gate, now, signed: Signed) -> GateChange | None:
    status_now = gate.current_status(now)[0] if gate is not None else ""
    value_now = gate.latest_value if gate is not None else None
    evidence_now = (gate.latest_evidence or "") if gate is not None else ""
    if entry is None:
        return GateChange(gate.key, "", status_now, None, value_now, gate.unit, True, "")
    value_then = signed.values.get(entry["measurement"]) if entry["measurement"] else None
    change = GateChange(
        key=entry["key"], status_then=entry["status"], status_now=status_now,
        value_then=value_then, value_now=value_now, unit=gate.unit if gate is not None else "",
        evidence_changed=entry["evidence"] != evidence_now,
        waiver_ended=_waiver_ended(entry, status_now, now, signed),
    )  # fmt: skip
    if gate is None or change.status_changed or change.value_changed:
        return change
    return change if change.evidence_changed or change.waiver_ended else None


def _waiver_ended(entry: dict, status_now: str, now, signed: Signed) -> str:
    """Whether the waiver the signed snapshot relied on has ended (and the gate is not passing)."""
    if not entry.get("waiver") or status_now in (GateStatus.PASSING, GateStatus.WAIVED):
        return ""
    expires, revoked = signed.waivers.get(entry["waiver"], (None, None))
    if revoked is not None:
        return "revoked"
    return "expired" if expires is not None and expires <= now else ""


def summary(changes: list[GateChange], *, limit: int = 3) -> str:
    """'3 gates changed: availability passing→failing, coverage 91→80 %, runbooks new evidence'."""
    if not changes:
        return ""
    # Status changes first: they are what invalidated a signature.
    ordered = sorted(changes, key=lambda c: not c.status_changed)
    shown = ", ".join(str(c) for c in ordered[:limit])
    more = f", and {len(changes) - limit} more" if len(changes) > limit else ""
    noun = "gate" if len(changes) == 1 else "gates"
    return f"{len(changes)} {noun} changed: {shown}{more}"
