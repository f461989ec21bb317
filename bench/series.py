"""The bulk rows of the bench data set, written with PostgreSQL COPY.

Each gate gets a history of measurements over the last `days` days: one per interval, its value
on the passing side of the rule most of the time, with failing runs and source errors; the gate's
guarded state is advanced with the product's own `rules.advance`, so every StatusChange is one
the portal would have stored. Audit events are hash-chained here with the product's own
`event_hash` / `event_body` and continue each launch's chain already in the database.
"""

import json
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection

from apps.audit.models import AuditEvent, chain_name
from apps.audit.services import GENESIS, canonical_json, event_body, event_hash
from apps.gates import rules
from apps.gates.models import Gate, GateStatus, Source
from apps.gates.services import refill_kept_columns

MEASUREMENT_COLUMNS = (
    "id, gate_id, status, value, reason, source_detail, evidence_id, "
    "evaluated_at, duration_ms, slot"
)
CHANGE_COLUMNS = "id, gate_id, from_status, to_status, reason, at, measurement_id"
AUDIT_COLUMNS = (
    "chain, sequence, at, actor_id, actor_name, action, launch_slug, object_type, "
    "object_key, data, prev_hash, hash"
)
FLUSH_ROWS = 20_000
P_FAIL, P_RECOVER, P_ERROR = 0.004, 0.25, 0.004  # per evaluation: start failing, recover, error


def copy_text(value) -> str:
    """One field in COPY text format."""
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


class Copier:
    """Rows buffered and sent to one COPY ... FROM STDIN in large chunks."""

    def __init__(self, copy):
        self.copy, self.lines = copy, []

    def row(self, *fields) -> None:
        self.lines.append("\t".join(fields))
        if len(self.lines) >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        if self.lines:
            self.copy.write("\n".join(self.lines) + "\n")
            self.lines = []


@dataclass
class GateHistory:
    """What the generator knows of one gate after writing its measurements."""

    gate: Gate
    state: rules.State = field(default_factory=lambda: rules.State(GateStatus.PENDING))
    state_reason: str = ""
    state_since: datetime | None = None
    last_measured_at: datetime | None = None
    last_evidence_at: datetime | None = None
    changes: list[tuple] = field(default_factory=list)  # (at, from, to, reason, measurement id)


def passing_and_failing(gate: Gate) -> tuple[float, float]:
    """A value on each side of the gate's rule."""
    threshold = float(gate.threshold)
    if gate.comparator in ("==", "!="):
        same = gate.comparator == "=="
        return (threshold, threshold + 1) if same else (threshold + 1, threshold)
    upward = gate.comparator in (">", ">=")
    if threshold == 0:
        return (5.0, 0.0) if upward else (0.0, 3.0)
    if upward and gate.unit == "%" and threshold < 100:
        return threshold + (100 - threshold) * 0.6, threshold * 0.97
    return (threshold * 1.3, threshold * 0.7) if upward else (threshold * 0.6, threshold * 1.4)


def _detail(gate: Gate) -> str:
    if gate.source == Source.PROMETHEUS:
        detail = {
            "url": "http://prometheus.internal:9090",
            "query": gate.query,
            "result_type": "vector",
            "elapsed_ms": 4,
        }
    elif gate.source == Source.REPORT:
        detail = {"report": f"{gate.format}-report", "format": gate.format, "metric": gate.metric}
    else:
        detail = {"attested_by": "Pat Morgan", "comment": "checked in the review"}
    return copy_text(json.dumps(detail, separators=(",", ":")))


def write_measurements(
    gates: list[Gate], *, per_gate: int, days: int, now: datetime, evidence: dict, seed: int
) -> list[GateHistory]:
    """COPY `per_gate` measurements for every gate (and its status changes); return histories.

    `evidence` maps a gate id to a list of evidence SHA-256s its measurements refer to, oldest
    first, spread evenly over its history (report gates).
    """
    next_id = _next_id("gates_measurement")
    histories = []
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY gates_measurement ({MEASUREMENT_COLUMNS}) FROM STDIN") as copy:
            out = Copier(copy)
            for gate in gates:
                rng = random.Random(f"{seed}-{gate.launch_id}-{gate.key}")  # noqa: S311
                history = GateHistory(gate)
                _gate_series(
                    out, history, next_id, per_gate, days, now, evidence.get(gate.id, []), rng
                )
                next_id += per_gate
                histories.append(history)
            out.flush()
    _set_sequence("gates_measurement", next_id)
    return histories


def _gate_series(out, history, first_id, count, days, now, shas, rng) -> None:  # noqa: PLR0913
    gate = history.gate
    good, bad = passing_and_failing(gate)
    step = timedelta(days=days) / max(count, 1)
    detail = _detail(gate)
    polled = gate.source == Source.PROMETHEUS
    failing = False
    for index in range(count):
        at = now - step * (count - index) + timedelta(seconds=rng.random() * 30)
        failing = rng.random() < (1 - P_RECOVER if failing else P_FAIL)
        error = polled and rng.random() < P_ERROR
        value = None if error else (bad if failing else good) * (1 + (rng.random() - 0.5) * 0.02)
        if value is not None and gate.comparator in ("==", "!="):
            value = bad if failing else good
        status, reason = _status(gate, value)
        sha = shas[index * len(shas) // count] if shas else None
        measurement_id = first_id + index
        out.row(
            str(measurement_id),
            str(gate.id),
            status,
            "\\N" if value is None else f"{value:.3f}",
            copy_text(reason),
            detail,
            sha or "\\N",
            at.isoformat(),
            str(rng.randint(2, 40)),
            "\\N",
        )
        _advance(history, status, reason, at, measurement_id)


def _status(gate: Gate, value: float | None) -> tuple[str, str]:
    if value is None:
        return GateStatus.UNKNOWN, "source unreachable: connection refused"
    decimal = Decimal(f"{value:.3f}")
    verdict = rules.verdict(comparator=gate.comparator, threshold=gate.threshold, value=decimal)
    return verdict.status, verdict.reason


def _advance(history: GateHistory, status: str, reason: str, at, measurement_id: int) -> None:
    before = history.state.status
    history.state = rules.advance(history.state, status, for_count=history.gate.for_count)
    if history.state.status == status:
        history.state_reason = reason
    history.last_measured_at = at
    if status in (GateStatus.PASSING, GateStatus.FAILING):
        history.last_evidence_at = at
    if history.state.status != before:
        history.state_since = at
        history.changes.append(
            (at, before, history.state.status, history.state_reason, measurement_id)
        )


def write_status_changes(histories: list[GateHistory]) -> int:
    """COPY every status change; update each gate's state to the end of its history."""
    next_id = _next_id("gates_statuschange")
    first = next_id
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY gates_statuschange ({CHANGE_COLUMNS}) FROM STDIN") as copy,
    ):
        out = Copier(copy)
        for history in histories:
            for at, before, after, reason, measurement_id in history.changes:
                out.row(
                    str(next_id),
                    str(history.gate.id),
                    before,
                    after,
                    copy_text(reason),
                    at.isoformat(),
                    str(measurement_id),
                )
                next_id += 1
        out.flush()
    _set_sequence("gates_statuschange", next_id)
    _update_gates(histories)
    return next_id - first


def _update_gates(histories: list[GateHistory]) -> None:
    gates = []
    for history in histories:
        gate = history.gate
        gate.state, gate.streak_status, gate.streak_count = (
            history.state.status,
            history.state.streak_status,
            history.state.streak_count,
        )
        gate.state_reason, gate.state_since = history.state_reason, history.state_since
        gate.last_measured_at, gate.last_evidence_at = (
            history.last_measured_at,
            history.last_evidence_at,
        )
        if history.last_measured_at is not None:
            gate.next_due_at = history.last_measured_at + gate.interval
        gates.append(gate)
    fields = [
        "state",
        "streak_status",
        "streak_count",
        "state_reason",
        "state_since",
        "last_measured_at",
        "last_evidence_at",
        "next_due_at",
    ]
    Gate.objects.bulk_update(gates, fields, batch_size=500)
    # What the services keep on each gate (newest measurement, sparkline points, covering
    # waiver), from the rows COPY wrote around them: the same function a repair would run.
    refill_kept_columns(Gate.objects.filter(pk__in=[gate.pk for gate in gates]))


def audit_bodies(
    histories: list[GateHistory], *, total: int, now: datetime, actors: list, seed: int
) -> list[dict]:
    """`total` audit events: every status change (newest first when there are too many), then
    report uploads, attestations and sign-ins to fill up; ordered by time."""
    rng = random.Random(f"audit-{seed}")  # noqa: S311
    changes = sorted(
        (
            (at, h.gate, before, after, reason, mid)
            for h in histories
            for at, before, after, reason, mid in h.changes
        ),
        key=lambda c: c[0],
        reverse=True,
    )[:total]
    events = [_change_event(*change) for change in changes]
    gates = [h.gate for h in histories]
    while len(events) < total and gates:
        events.append(_filler_event(rng, rng.choice(gates), rng.choice(actors), now))
    events.sort(key=lambda e: e["at"])
    return events


def _change_event(at, gate, before, after, reason, measurement_id) -> dict:
    return {
        "at": at,
        "actor": None,
        "actor_name": "worker",
        "action": "gate.status_changed",
        "launch": gate.launch.slug,
        "object_type": "gate",
        "object_key": gate.key,
        "data": {"from": before, "to": after, "reason": reason, "measurement": measurement_id},
    }


def _filler_event(rng, gate, actor, now) -> dict:
    at = now - timedelta(seconds=rng.random() * 30 * 86400)
    kind = rng.random()
    if kind < 0.5:
        sha = f"{rng.getrandbits(256):064x}"
        return {
            "at": at,
            "actor": None,
            "actor_name": "github-actions",
            "action": "report.ingested",
            "launch": gate.launch.slug,
            "object_type": "evidence",
            "object_key": sha,
            "data": {"format": "junit", "name": "junit.xml", "gates": [gate.key]},
        }
    if kind < 0.8:
        return {
            "at": at,
            "actor": actor.pk,
            "actor_name": actor.get_full_name(),
            "action": "gate.attested",
            "launch": gate.launch.slug,
            "object_type": "gate",
            "object_key": gate.key,
            "data": {"comment": "verified", "measurement": None},
        }
    return {
        "at": at,
        "actor": actor.pk,
        "actor_name": actor.get_full_name(),
        "action": "auth.login",
        "launch": "",
        "object_type": "user",
        "object_key": actor.get_username(),
        "data": {"ip": "10.0.0.7"},
    }


def write_audit_events(bodies: list[dict]) -> int:
    """COPY the events, each chained after the newest event already stored in its chain."""
    # Every head is read before the COPY starts: the connection answers no query during it.
    heads = {chain: _chain_head(chain) for chain in {chain_name(b["launch"]) for b in bodies}}
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY audit_auditevent ({AUDIT_COLUMNS}) FROM STDIN") as copy,
    ):
        out = Copier(copy)
        for body in bodies:
            chain = chain_name(body["launch"])
            sequence, prev = heads[chain]
            event = AuditEvent(
                chain=chain,
                sequence=sequence + 1,
                at=body["at"].astimezone(UTC),
                actor_id=body["actor"],
                actor_name=body["actor_name"],
                action=body["action"],
                launch_slug=body["launch"],
                object_type=body["object_type"],
                object_key=body["object_key"],
                data=json.loads(canonical_json(body["data"])),
                prev_hash=prev,
            )
            event.hash = event_hash(prev, event_body(event))
            out.row(
                chain,
                str(event.sequence),
                event.at.isoformat(),
                "\\N" if event.actor_id is None else str(event.actor_id),
                copy_text(event.actor_name),
                event.action,
                event.launch_slug,
                event.object_type,
                copy_text(event.object_key),
                copy_text(canonical_json(event.data)),
                prev,
                event.hash,
            )
            heads[chain] = (event.sequence, event.hash)
        out.flush()
    return len(bodies)


def _chain_head(chain: str) -> tuple[int, str]:
    last = AuditEvent.objects.filter(chain=chain).order_by("-sequence")
    last = last.only("sequence", "hash").first()
    return (last.sequence, last.hash) if last else (0, GENESIS)


def _next_id(table: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")  # noqa: S608 - ours
        return cursor.fetchone()[0]


def _set_sequence(table: str, next_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), %s, false)", [table, next_id]
        )
