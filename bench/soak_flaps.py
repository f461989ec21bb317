"""Did a gate change status more eagerly than its ``for:`` guard allows, or miss a change?

The guard, restated from the README rather than imported from apps/gates/rules.py: a gate never
measured takes its first reading at once, and so does an ``unknown`` reading (an error is never
held back); a different verdict (passing, failing) takes over on the ``for``-th agreeing reading
in a row. Replaying each gate's measurements in the order they were
stored gives the changes the guard allows; the StatusChange rows the workers wrote must be
exactly those. Every stored change is also sorted by its cause: the first reading, a source
error (to or from ``unknown``), the fake's schedule, or none of these (a stable gate failing).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

PENDING, PASSING, FAILING, UNKNOWN = "pending", "passing", "failing", "unknown"


@dataclass(frozen=True)
class Change:
    measurement: int | None
    before: str
    after: str


def guarded_changes(readings: list[tuple[int, str]], for_count: int) -> list[Change]:
    """The changes ``for: for_count`` allows over (measurement id, status) readings in order."""
    state, run_status, run = PENDING, "", 0
    changes = []
    for measurement, status in readings:
        run = run + 1 if status == run_status else 1
        run_status = status
        at_once = state == PENDING or status == UNKNOWN
        if status != state and (at_once or run >= for_count):
            changes.append(Change(measurement, state, status))
            state = status
    return changes


def run_lengths(readings: list[tuple[int, str]]) -> dict[int, int]:
    """For each measurement, how many readings in a row (ending with it) share its status."""
    lengths, run_status, run = {}, "", 0
    for measurement, status in readings:
        run = run + 1 if status == run_status else 1
        run_status = status
        lengths[measurement] = run
    return lengths


def cause(change: Change, *, scheduled: bool) -> str:
    """Why a stored change happened, as far as the soak can tell."""
    if change.before == PENDING:
        return "first reading"
    if UNKNOWN in (change.before, change.after):
        return "source error"
    return "schedule" if scheduled else "unexplained"


@dataclass
class GateVerdict:
    key: str
    for_count: int
    scheduled: bool
    readings: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    causes: dict[str, int] = field(default_factory=dict)
    flaps: list[str] = field(default_factory=list)  # stored, not allowed by the guard
    missed: list[str] = field(default_factory=list)  # allowed by the guard, not stored
    shortest_run: int | None = None  # of the readings that changed the status (first excluded)
    unexpected_failing: int = 0  # failing readings of a gate the fake keeps passing

    @property
    def ok(self) -> bool:
        unexplained = self.causes.get("unexplained", 0)
        return not (self.flaps or self.missed or unexplained or self.unexpected_failing)


def judge_gate(
    *,
    key: str,
    for_count: int,
    scheduled: bool,
    readings: list[tuple[int, str]],
    stored: list[Change],
) -> GateVerdict:
    """Compare the stored changes of one gate with those its guard allows."""
    allowed = guarded_changes(readings, for_count)
    verdict = GateVerdict(key=key, for_count=for_count, scheduled=scheduled)
    verdict.readings = len(readings)
    verdict.statuses = dict(Counter(status for _, status in readings))
    verdict.causes = dict(Counter(cause(change, scheduled=scheduled) for change in stored))
    verdict.flaps = [_describe(c) for c in stored if c not in allowed]
    verdict.missed = [_describe(c) for c in allowed if c not in stored]
    runs = run_lengths(readings)
    lengths = [runs.get(c.measurement, 0) for c in stored if c.before != PENDING]
    verdict.shortest_run = min(lengths) if lengths else None
    if not scheduled:
        verdict.unexpected_failing = verdict.statuses.get(FAILING, 0)
    return verdict


def _describe(change: Change) -> str:
    return f"{change.before} -> {change.after} at measurement {change.measurement}"


def load_verdicts(*, slug: str, scheduled: set[str]) -> list[GateVerdict]:
    """Judge every Prometheus gate of the launch from the database (two queries)."""
    from apps.gates.models import Gate, Measurement, Source, StatusChange

    gates = list(Gate.objects.filter(launch__slug=slug, source=Source.PROMETHEUS).order_by("order"))
    readings: dict[int, list[tuple[int, str]]] = {gate.pk: [] for gate in gates}
    # Measurements are inserted under the gate's row lock, so id order is the order of judging.
    for gate_id, pk, status in (
        Measurement.objects.filter(gate__in=gates)
        .order_by("id")
        .values_list("gate_id", "id", "status")
    ):
        readings[gate_id].append((pk, status))
    stored: dict[int, list[Change]] = {gate.pk: [] for gate in gates}
    for gate_id, measurement, before, after in (
        StatusChange.objects.filter(gate__in=gates)
        .order_by("id")
        .values_list("gate_id", "measurement_id", "from_status", "to_status")
    ):
        stored[gate_id].append(Change(measurement, before, after))
    return [
        judge_gate(
            key=gate.key,
            for_count=gate.for_count,
            scheduled=gate.key in scheduled,
            readings=readings[gate.pk],
            stored=stored[gate.pk],
        )
        for gate in gates
    ]
