"""Readiness: GO-ready when every blocking gate is passing or waived and every required role
holds a valid approval. The portal recommends; people decide."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import DateTimeField, ExpressionWrapper, F, Min

from apps.gates import rows
from apps.gates.models import Gate
from apps.signoffs.models import Role, SignOff
from apps.signoffs.snapshot import GOOD
from portal.prepared import PreparedQuery

# What Gate.current_status() reads, for the gates readiness loads itself.
JUDGED_FIELDS = ("launch_id", "key", "blocking", "state", "state_reason", "last_measured_at",
                 "last_evidence_at", "max_age", "covering_waiver__expires_at",
                 "covering_waiver__reason")  # fmt: skip


# What _judge() reads of a sign-off.
JUDGED_SIGNOFF_FIELDS = ("launch_id", "role_id", "decision", "invalidated_at",
                         "invalidated_reason", "comment")  # fmt: skip


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
    # readiness_of_many() sets it: the first moment at which a gate's evidence or waiver runs out,
    # so that this readiness may change with no write (None: not by time alone).
    until: datetime | None = field(default=None, compare=False)

    @property
    def recommendation(self) -> str:
        return "go" if self.ready else "no-go"

    def as_dict(self) -> list[dict]:
        return [b.__dict__ for b in self.blockers]


def readiness(launch, now, *, gates=None, roles=None, signoffs=None) -> Readiness:
    """One launch's readiness, by readiness_of_many()'s rule, from the database as it is now (the
    sign-off and decision services judge by it). Three queries, fewer when the caller passes what
    it has loaded already: the launch's gates (for_dashboard()), its unretired roles, its active
    sign-offs."""
    pk = launch.pk
    return _judge(
        gate_blockers(_ONE_GATES(launch_id=pk, now=now) if gates is None else gates, now),
        roles=_ONE_ROLES(launch_id=pk) if roles is None else roles,
        signoffs=_ONE_SIGNOFFS(launch_id=pk) if signoffs is None else signoffs,
    )


def readiness_of_many(launches: list, now) -> dict[int, Readiness]:
    """Readiness of several launches (by id), as a page lists them, from the cache whatever their
    number: the gates' blockers (cached_gate_blockers) and the roles and sign-offs, kept under
    each launch's record (`record_version`: Launch.objects.with_record_version(); a sign-off, a
    role or its invalidation is audited) and gate statuses (rows.STATUS), loaded in two queries
    for the launches the cache lacks."""
    ids = [launch.pk for launch in launches]
    blocked = _kept_gate_blockers(ids, now)

    def draw(missing: list[int]) -> dict:
        roles, signoffs = defaultdict(list), defaultdict(list)
        judged = _signoffs(missing).only(*JUDGED_SIGNOFF_FIELDS)  # kept small: a list reads many
        for rows_of, by_launch in ((_roles(missing), roles), (judged, signoffs)):
            for row in rows_of:
                by_launch[row.launch_id].append(row)
        return {pk: ((roles[pk], signoffs[pk]), None) for pk in missing}

    records = {launch.pk: launch.record_version for launch in launches}
    signed = rows.fragments(ids, "readiness;signoffs", now, draw, rows.STATUS, each=records)
    judged = {pk: _judge(blocked[pk][0], roles=signed[pk][0], signoffs=signed[pk][1]) for pk in ids}
    for pk, state in judged.items():
        state.until = blocked[pk][1]
    return judged


def gate_blockers(gates, now) -> list[Blocker]:
    """The half of the rule that reads gates: each blocking gate of `gates` that is not good
    (passing or waived) at `now`."""
    found = []
    for gate in (g for g in gates if g.blocking):
        status, reason = gate.current_status(now)
        if status not in GOOD:
            found.append(Blocker("gate", gate.key, status, reason))
    return found


def cached_gate_blockers(launch_ids: list[int], now) -> dict[int, list[Blocker]]:
    """gate_blockers() of each launch, kept in the gate rows' cache (apps/gates/rows.py) until a
    write bumps the launch's version or, without any write, a gate's evidence or waiver runs out.
    One query for the launches the cache lacks (two with their first evidence expiry)."""
    return {pk: blockers for pk, (blockers, _) in _kept_gate_blockers(launch_ids, now).items()}


def _kept_gate_blockers(launch_ids: list[int], now) -> dict[int, tuple[list[Blocker], object]]:
    """cached_gate_blockers(), each with the moment it goes stale by time alone."""

    def draw(missing: list[int]) -> dict:
        loaded = defaultdict(list)
        for gate in _gates_to_judge(missing, now):
            loaded[gate.launch_id].append(gate)
        expiries = _first_expiry(missing, now)
        drawn = {}
        for pk in missing:
            moments = [m for m in (rows.stale_at(loaded[pk], now), expiries.get(pk)) if m]
            until = min(moments, default=None)
            drawn[pk] = ((gate_blockers(loaded[pk], now), until), until)
        return drawn

    return rows.fragments(launch_ids, "readiness;gate-blockers/2", now, draw)


def _first_expiry(launch_ids: list[int], now) -> dict[int, object]:
    """Per launch, the first moment after `now` at which a blocking gate's evidence goes stale:
    the gates passing on fresh evidence are not loaded (may_block), yet they turn unknown then."""
    expiry = ExpressionWrapper(F("last_evidence_at") + F("max_age"), output_field=DateTimeField())
    found = (
        Gate.objects.filter(launch_id__in=launch_ids, blocking=True, last_evidence_at__isnull=False)
        .active()
        .annotate(expiry=expiry)
        .filter(expiry__gt=now)
        .order_by()
        .values("launch_id")
        .annotate(first=Min("expiry"))
    )
    return {row["launch_id"]: row["first"] for row in found}


def _judge(blockers: list[Blocker], *, roles, signoffs) -> Readiness:
    """The rule, over one launch's gate blockers (gate_blockers), roles and active sign-offs:
    every blocking gate good, every required, unretired role holding a valid approval."""
    blockers = list(blockers)
    active = {s.role_id: s for s in signoffs}
    approvals = {pk: s for pk, s in active.items() if s.is_approval and s.invalidated_at is None}
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


def _gates_to_judge(launch_ids: list[int], now):
    """Only the gates that may block, with only what current_status() reads: a gate passing on
    fresh evidence is good whatever else holds, so it is not loaded at all."""
    gates = Gate.objects.filter(launch_id__in=launch_ids).may_block(now)
    return gates.with_active_waiver(now).only(*JUDGED_FIELDS).order_by("order", "key")


def _roles(launch_ids: list[int]):
    return Role.objects.filter(launch_id__in=launch_ids, retired_at__isnull=True).only(
        "launch_id", "key", "name", "required", "retired_at"
    )


def _signoffs(launch_ids: list[int]):
    return SignOff.objects.filter(launch_id__in=launch_ids).active().briefly()


# readiness()'s three reads: those of readiness_of_many() for one launch, built once per process
# (portal.prepared), as every sign-off, decision and timeline page judges one launch.
_ONE_GATES = PreparedQuery(
    lambda launch_id, now: _gates_to_judge([launch_id], now), launch_id=int, now=datetime
)
_ONE_ROLES = PreparedQuery(lambda launch_id: _roles([launch_id]), launch_id=int)
_ONE_SIGNOFFS = PreparedQuery(lambda launch_id: _signoffs([launch_id]), launch_id=int)
