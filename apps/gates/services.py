"""Writes to gates: recording readings, evaluating polled gates, ingesting reports, waivers."""

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import F, OuterRef, Subquery, Value, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from apps.audit.services import lock_chains, record
from apps.gates import rows, rules, signals
from apps.gates.evidence import read_evidence, store_evidence
from apps.gates.models import (
    NEWEST_FIRST,
    SPARK_POINTS,
    Evidence,
    Gate,
    GateStatus,
    Measurement,
    Source,
    StatusChange,
    Waiver,
    spark_point,
)
from apps.gates.parsers import ParsedReport, ReportError, UnknownFormat, parse_report
from apps.gates.sources import SourceError
from portal.prepared import PreparedQuery


@dataclass
class Reading:
    """What one evaluation found, before it is judged and stored."""

    value: Decimal | None = None
    error: str = ""
    detail: dict = field(default_factory=dict)
    evidence: Evidence | None = None
    notes: tuple[str, ...] = ()


def record_reading(
    *, gate: Gate, reading: Reading, actor, slot=None, duration_ms: int = 0, at=None
) -> Measurement | None:
    """Judge a reading by the gate's rule and store it as a measurement, in one transaction.

    Advances the gate's guarded state; a change of state is stored as a StatusChange and an
    audit event. With a `slot` (a claimed poll), a second call for the same slot stores nothing
    and returns None, so a redelivered task cannot measure twice.
    """
    evaluation = Evaluation(gate, reading, slot, duration_ms, at or timezone.now())
    return record_readings([evaluation], actor=actor)[0]


@dataclass
class Evaluation:
    """One reading of one gate, waiting to be recorded."""

    gate: Gate
    reading: Reading
    slot: datetime | None = None
    duration_ms: int = 0
    at: datetime | None = None


def record_readings(
    evaluations: list[Evaluation], *, actor, locked: bool = False
) -> list[Measurement | None]:
    """record_reading() for many gates (each at most once) in one transaction.

    Per gate the same happens as in record_reading: the gate row is locked, a slot already
    measured stores nothing (None in its place), the guarded state advances, a change of state is
    a StatusChange, an audit event and the invalidation of approvals. Only the number of
    statements differs: one lock, one slot check, one insert and one update for the batch.

    `locked`: the evaluations' gates are rows the caller read with _locked_gates() in this very
    transaction, each with its launch; they are taken as they are instead of being locked again.
    """
    if len({e.gate.pk for e in evaluations}) != len(evaluations):
        raise ValueError("a gate appears twice in one batch of readings")
    now = timezone.now()
    verdicts = [_judge(e.gate, e.reading) for e in evaluations]
    # No savepoint of its own inside a caller's transaction (two statements fewer): an error
    # here rolls back the whole of it, and the callers let it go up.
    with transaction.atomic(savepoint=False):
        given = [e.gate for e in evaluations]
        rows_held = {gate.pk: gate for gate in given} if locked else _lock_gates(given)
        taken = _measured_slots(evaluations)
        results: list[Measurement | None] = []
        for e, judged in zip(evaluations, verdicts, strict=True):
            if e.slot is not None and (e.gate.pk, e.slot) in taken:
                results.append(None)
                continue
            results.append(_measurement(rows_held[e.gate.pk], e, judged, e.at or now))
        stored = [m for m in results if m is not None]
        _insert(stored)
        said = {m.gate.pk: m.gate.evidence_status(m.evaluated_at)[0] for m in stored}
        changes = [(m, before) for m in stored if (before := _step(m.gate, m)) != m.gate.state]
        late = [m.gate for m in stored if m.gate.latest_measurement_id != m.pk]
        _reread_points(late)
        _save_states([m.gate for m in stored])
        # Launches where a gate shows another status: its state changed, or its evidence (a
        # fresh reading of a gate gone stale, whose state stays as it was).
        moved = {m.gate.launch_id for m, _ in changes} | {
            m.gate.launch_id for m in stored
            if m.gate.evidence_status(m.evaluated_at)[0] != said[m.gate.pk]}  # fmt: skip
        for launch_id in {m.gate.launch_id for m in stored}:
            # Each gate's row shows its newest reading: with no status changed, only those rows.
            read = [m.gate.pk for m in stored if m.gate.launch_id == launch_id]
            rows.bump(launch_id, (rows.GATES,), gates=None if launch_id in moved else read)
        for launch_id in {gate.launch_id for gate in late}:
            rows.bump(launch_id, (rows.HISTORY,))  # not the newest: its gate's page is redrawn
        for launch_id in moved:
            rows.bump(launch_id, (rows.STATUS,))  # the forecast follows statuses alone
        lock_chains(m.gate.launch.slug for m, _ in changes)  # a batch spans launches: no deadlock
        for measurement, before in changes:
            _status_changed(measurement.gate, before, measurement, actor=actor)
            if measurement.gate.state != GateStatus.PASSING:
                _invalidate_approvals(measurement.gate, measurement, actor=actor)
    return results


def _measurement(gate: Gate, e: Evaluation, judged: rules.Verdict, at) -> Measurement:
    """The row a judged reading becomes: a value the column cannot hold is kept as text in the
    evidence, never stored as a number; text that PostgreSQL refuses (NUL) is cleaned."""
    value, detail = e.reading.value, e.reading.detail
    kept = rules.storable(value)
    if value is not None and kept is None and value.is_finite():
        detail = {**detail, "value_read": str(value)[:60]}
    return Measurement(
        gate=gate, status=judged.status, value=kept, reason=_clean(judged.reason),
        source_detail=_clean(detail), evidence=e.reading.evidence, evaluated_at=at,
        duration_ms=e.duration_ms, slot=e.slot,
    )  # fmt: skip


def _clean(value):
    """Text and JSON-like data without NUL characters (PostgreSQL stores none)."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_clean(str(key)): _clean(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return value


_UNRECORDABLE = (DatabaseError, TypeError, ValueError)


def _insert(measurements: list[Measurement]) -> None:
    """Insert the batch; should it fail, insert row by row, and a row that still fails is stored
    as unknown with the reason instead, so one hostile reading never drops the others."""
    try:
        with transaction.atomic():
            Measurement.objects.bulk_create(measurements)
        return
    except _UNRECORDABLE:
        pass
    for measurement in measurements:
        measurement.pk = None
        try:
            with transaction.atomic():
                measurement.save(force_insert=True)
        except _UNRECORDABLE as exc:
            measurement.pk = None
            measurement.status, measurement.value = GateStatus.UNKNOWN, None
            measurement.reason = f"the reading could not be recorded: {type(exc).__name__}"
            measurement.source_detail = {"recording_error": _clean(str(exc))[:500]}
            measurement.save(force_insert=True)


# What record_readings() advances on each gate of a batch (the rows are locked).
STATE_FIELDS = ("state", "state_reason", "streak_status", "streak_count", "last_measured_at",
                "last_evidence_at", "state_since", "latest_measurement", "latest_evaluated_at",
                "latest_value", "latest_reason", "latest_evidence", "spark_points")  # fmt: skip


def _save_states(gates: list[Gate]) -> None:
    """Write STATE_FIELDS of the batch's gates: the state record_readings() advanced, and the
    newest measurements it kept. One statement on both databases: INSERT … ON CONFLICT (id) DO
    UPDATE of these fields alone, which on PostgreSQL sends one array per column (see
    portal/postgresql). Every row exists and is locked by this transaction (_lock_gates), so the
    insert half never runs: a gate deleted meanwhile cannot come back."""
    Gate.objects.bulk_create(
        gates, update_conflicts=True, unique_fields=["id"], update_fields=STATE_FIELDS
    )


def refill_kept_columns(gates) -> None:
    """Fill what record_readings() and update_covering_waiver() keep on each of `gates` (a
    QuerySet) from its measurements and waivers: the newest measurement, the sparkline points
    and the covering waiver. For rows written around the services (bench/series.py's COPY);
    migrations 0006 and 0008 keep frozen copies of it."""
    chosen = Gate.objects.filter(pk__in=list(gates.values_list("pk", flat=True)))
    newest = Measurement.objects.filter(gate=OuterRef("pk")).order_by(*NEWEST_FIRST)
    covering = Waiver.objects.covering().filter(gate=OuterRef("pk"))
    kept = Measurement.objects.filter(pk=OuterRef("latest_measurement"))
    with transaction.atomic():
        chosen.update(latest_measurement=Subquery(newest.values("pk")[:1]),
                      covering_waiver=Subquery(covering.values("pk")[:1]))  # fmt: skip
        chosen.filter(latest_measurement__isnull=False).update(
            latest_evaluated_at=Subquery(kept.values("evaluated_at")),
            latest_value=Subquery(kept.values("value")),
            latest_reason=Subquery(kept.values("reason")),
            latest_evidence=Coalesce(Subquery(kept.values("evidence_id")), Value("")),
        )
        points = _newest_points(chosen)
        refilled = [
            Gate(pk=pk, spark_points=points.get(pk, []))
            for pk in chosen.values_list("pk", flat=True)
        ]
        Gate.objects.bulk_update(refilled, ["spark_points"], batch_size=500)
        for launch_id in set(chosen.values_list("launch_id", flat=True)):
            rows.bump(launch_id, rows.EVERYTHING)  # written around the services


def _reread_points(gates: list[Gate]) -> None:
    """The spark_points of gates that got a late measurement (not their newest), read again."""
    if gates:
        points = _newest_points(Gate.objects.filter(pk__in=[gate.pk for gate in gates]))
        for gate in gates:
            gate.spark_points = points.get(gate.pk, [])


def _newest_points(gates) -> dict[int, list]:
    """Gate.spark_points of `gates`, read from their measurements (one window query)."""
    rank = Window(RowNumber(), partition_by=F("gate_id"), order_by=list(NEWEST_FIRST))
    newest = Measurement.objects.filter(gate__in=gates).annotate(rank=rank)
    newest = newest.filter(rank__lte=SPARK_POINTS).order_by("gate_id", "evaluated_at", "id")
    points: dict[int, list] = {}
    for measurement in newest.only("gate_id", "value", "status"):
        points.setdefault(measurement.gate_id, []).append(spark_point(measurement))
    return points


def _lock_gates(given: list[Gate]) -> dict[int, Gate]:
    """The gates, locked in id order (so that concurrent batches cannot deadlock), each with its
    launch: the one `given` carries when every given gate carries it, otherwise loaded with it."""
    carried = all(Gate.launch.is_cached(gate) for gate in given)
    gates = _locked_gates(Gate.objects.all())
    if not carried:
        gates = gates.select_related("launch")
    locked = {gate.pk: gate for gate in gates.filter(pk__in=[g.pk for g in given])}
    if carried:
        for gate in given:
            if gate.pk in locked:
                locked[gate.pk].launch = gate.launch
    return locked


def _locked_gates(gates):
    """`gates` (a QuerySet) read with their rows locked until the transaction ends, in id order:
    two transactions locking gates of one launch then never deadlock."""
    return gates.select_for_update(of=("self",)).order_by("pk")


def _measured_slots(evaluations: list[Evaluation]) -> set[tuple[int, datetime]]:
    """(gate id, slot) of the claimed polls among `evaluations` that are already measured."""
    slotted = [e for e in evaluations if e.slot is not None]
    if not slotted:
        return set()
    found = Measurement.objects.filter(
        gate_id__in=[e.gate.pk for e in slotted], slot__in={e.slot for e in slotted}
    ).values_list("gate_id", "slot")
    return set(found)


def _judge(gate: Gate, reading: Reading) -> rules.Verdict:
    try:
        return _judged(gate, reading)
    except (ArithmeticError, TypeError, ValueError) as exc:  # a value no rule can compare
        return rules.Verdict(GateStatus.UNKNOWN, f"the reading cannot be judged: {exc}"[:300])


def _judged(gate: Gate, reading: Reading) -> rules.Verdict:
    error = reading.error
    if not error and reading.value is None and reading.notes:
        error = "; ".join(reading.notes)
    judged = rules.verdict(
        comparator=gate.comparator, threshold=gate.threshold, value=reading.value, error=error
    )
    if reading.notes and judged.status != GateStatus.UNKNOWN:
        notes = "; ".join(reading.notes)
        return rules.Verdict(judged.status, f"{judged.reason}; {notes}" if judged.reason else notes)
    return judged


def _step(gate: Gate, measurement: Measurement) -> str:
    """Advance the gate's guarded state by one stored measurement, and keep it as the newest
    unless a newer one is kept (in memory); returns the state before."""
    before = gate.state
    gate.keep_if_newest(measurement)
    state = rules.advance(
        rules.State(gate.state, gate.streak_status, gate.streak_count),
        measurement.status,
        for_count=gate.for_count,
    )
    gate.state, gate.streak_status, gate.streak_count = (
        state.status,
        state.streak_status,
        state.streak_count,
    )
    if gate.state == measurement.status:
        gate.state_reason = measurement.reason
    gate.last_measured_at = measurement.evaluated_at
    if measurement.status in (GateStatus.PASSING, GateStatus.FAILING):
        gate.last_evidence_at = measurement.evaluated_at
    if gate.state != before:
        gate.state_since = measurement.evaluated_at
    return before


def _invalidate_approvals(gate: Gate, measurement: Measurement, *, actor) -> None:
    """A gate that leaves passing (and is not waived) undoes the approvals covering it."""
    status, reason = gate.current_status(measurement.evaluated_at)
    if status != GateStatus.WAIVED:
        signals.status_left_passing.send(
            sender=Gate, gate=gate, status=status, reason=reason, now=measurement.evaluated_at,
            actor=actor,
        )  # fmt: skip


def _status_changed(gate: Gate, before: str, measurement: Measurement, *, actor) -> None:
    StatusChange.objects.create(
        gate=gate,
        from_status=before,
        to_status=gate.state,
        reason=gate.state_reason,
        at=measurement.evaluated_at,
        measurement=measurement,
    )
    record(
        actor=actor,
        action="gate.status_changed",
        launch_slug=gate.launch.slug,
        obj_type="gate",
        obj_key=gate.key,
        data={
            "from": before,
            "to": gate.state,
            "reason": gate.state_reason,
            "measurement": measurement.pk,
        },  # fmt: skip
    )


# --- polled gates -------------------------------------------------------------------------------


def evaluate_gate(*, gate: Gate, actor="worker", slot=None) -> Measurement | None:
    """Fetch a polled gate's evidence (network I/O outside any transaction) and record it."""
    evaluation = _evaluate(gate, slot)
    return record_readings([evaluation], actor=actor)[0]


READ_THREADS = 16  # Prometheus reads of one batch in flight at once: a batch takes two rounds


def evaluate_gates(
    *, gates: list[Gate], slots: dict[int, datetime], actor="worker"
) -> list[Measurement | None]:
    """evaluate_gate() for a batch of claimed polls, each gate at most once, `slots` by gate id.

    A gate whose slot is already measured (a redelivered batch) is not read again. Prometheus
    reads run side by side in threads (they touch no database); report URLs are polled one
    after the other (they store evidence). Then every reading is recorded in one transaction.
    """
    measured = _measured_slots([Evaluation(g, Reading(), slots.get(g.pk)) for g in gates])
    todo = [g for g in gates if (g.pk, slots.get(g.pk)) not in measured]
    threaded = [g for g in todo if g.source == Source.PROMETHEUS]
    for gate in threaded:
        _ = gate.prometheus  # loaded here: a thread must not open its own connection
    evaluations = [_evaluate(g, slots.get(g.pk)) for g in todo if g.source != Source.PROMETHEUS]
    if threaded:
        with ThreadPoolExecutor(max_workers=min(READ_THREADS, len(threaded))) as pool:
            evaluations += pool.map(lambda g: _evaluate(g, slots.get(g.pk)), threaded)
    return record_readings(evaluations, actor=actor)


def _evaluate(gate: Gate, slot) -> Evaluation:
    started = time.monotonic()
    try:
        reading = _read_prometheus(gate) if gate.source == Source.PROMETHEUS else _read_pull(gate)
    except SourceError as exc:
        reading = Reading(error=exc.reason, detail=exc.detail)
    elapsed = int((time.monotonic() - started) * 1000)
    return Evaluation(gate, reading, slot, elapsed, timezone.now())


def _read_prometheus(gate: Gate) -> Reading:
    from apps.gates.sources import prometheus

    credentials, allowed_hosts = {}, None  # None: the operator's own setting, trusted
    if gate.prometheus_id:
        # From a spec: the read checks it on the very address it connects to (no rebinding).
        url, allowed_hosts = gate.prometheus.url, settings.SOURCE_ALLOWED_HOSTS
        credentials = gate.prometheus.credentials()
    else:
        url = settings.PROMETHEUS_URL
    if not url:
        raise SourceError("source unreachable: no Prometheus configured (set PROMETHEUS_URL)")
    found = prometheus.read(
        url=url,
        query=gate.query,
        timeout=settings.PROMETHEUS_TIMEOUT,
        allowed_hosts=allowed_hosts,
        **credentials,
    )
    return Reading(value=found.value, detail=found.detail)


def _read_pull(gate: Gate) -> Reading:
    """Poll a report URL with ETag / If-Modified-Since; 304 re-reads the stored report."""
    from portal.outbound import fetch

    if gate.source != Source.REPORT or not gate.pull_url:
        raise SourceError(f"{gate.source} gates are not polled")
    got = fetch(
        gate.pull_url,
        allowed_hosts=settings.SOURCE_ALLOWED_HOSTS,
        max_bytes=settings.REPORT_MAX_BYTES,
        timeout=settings.PULL_TIMEOUT,
        etag=gate.pull_etag,
        last_modified=gate.pull_last_modified,
    )
    detail = {"url": gate.pull_url, "http": got.status}
    if got.status == "not_modified":
        evidence = _last_evidence(gate)
        if evidence is None:
            raise SourceError("304 Not Modified but no earlier report is stored", detail=detail)
        return _report_reading(gate, read_evidence(evidence), evidence, detail)
    Gate.objects.filter(pk=gate.pk).update(pull_etag=got.etag, pull_last_modified=got.last_modified)
    evidence = store_evidence(data=got.body, name=gate.pull_url.rsplit("/", 1)[-1])
    return _report_reading(gate, got.body, evidence, detail)


def _last_evidence(gate: Gate) -> Evidence | None:
    newest = gate.measurements.exclude(evidence=None).select_related("evidence").first()
    return newest.evidence if newest else None


def _report_reading(gate: Gate, data: bytes, evidence: Evidence, detail: dict) -> Reading:
    try:
        parsed = parse_report(data, gate.format)
    except ReportError as exc:
        raise SourceError(f"report refused: {exc}", detail=detail) from None
    return metric_reading(gate, parsed, evidence=evidence, detail=detail)


def metric_reading(gate: Gate, parsed: ParsedReport, *, evidence, detail: dict) -> Reading:
    """The reading a parsed report gives a gate: its metric, or unknown with the reason."""
    detail = {**detail, "format": parsed.format, "metric": gate.metric}
    if gate.metric not in parsed.metrics:
        error = f"the {parsed.format} report has no {gate.metric}"
        return Reading(error=error, detail=detail, evidence=evidence, notes=parsed.notes)
    value = parsed.metrics[gate.metric]
    if value is None:
        error = "; ".join(parsed.notes) or f"the report gives no value for {gate.metric}"
        return Reading(error=error, detail=detail, evidence=evidence)
    return Reading(value=value, detail=detail, evidence=evidence, notes=parsed.notes)


# --- pushed reports -----------------------------------------------------------------------------


class IngestError(Exception):
    """A refused report: `status` is the HTTP status the API answers with."""

    def __init__(self, status: int, message: str):
        self.status, self.message = status, message
        super().__init__(message)


def ingest_report(
    *, launch, data: bytes, format: str | None, gate_key: str | None, name: str, actor
) -> list[Measurement]:
    """Parse an uploaded report and measure every report gate it applies to.

    Applies to the named gate, or to every active report gate of the launch reading its format.
    Refused (IngestError, nothing stored) when it cannot be parsed or applies to no gate.
    """
    launch.refuse_if_closed()  # a closed launch is read-only
    named = _report_gates(launch, key=gate_key) if gate_key else []
    try:
        parsed = parse_report(data, format or (named[0].format if named else None))
    except UnknownFormat as exc:
        raise IngestError(415, str(exc)) from None
    except ReportError as exc:
        raise IngestError(400, str(exc)) from None
    measurements: list[Measurement] = []
    with transaction.atomic(savepoint=False):  # as in record_readings()
        # The gates that read this report, locked at once: record_readings() takes them as they
        # are (one statement fewer than reading them, then locking them).
        gates = _report_gates(launch, key=gate_key, format=parsed.format, locked=True)
        if gates:
            evidence = store_evidence(data=data, name=name, content_type=parsed.format)
            detail = {"report": name, "sha256": evidence.sha256}
            now = timezone.now()
            readings = [metric_reading(g, parsed, evidence=evidence, detail=detail) for g in gates]
            evaluations = [Evaluation(g, r, at=now) for g, r in zip(gates, readings, strict=True)]
            measurements = record_readings(evaluations, actor=actor, locked=True)
            record(
                actor=actor,
                action="report.ingested",
                launch_slug=launch.slug,
                obj_type="evidence",
                obj_key=evidence.sha256,
                data={"format": parsed.format, "name": name, "gates": [g.key for g in gates]},
            )
    if not gates:  # raised out of the block: a caller's transaction goes on untouched
        where = f"gate {gate_key!r}" if gate_key else f"launch {launch.slug!r}"
        raise IngestError(400, f"no report gate of {where} reads {parsed.format} reports")
    return measurements


def _report_gates(
    launch, *, key: str | None = None, format: str | None = None, locked: bool = False
) -> list[Gate]:
    """The launch's active report gates: `key` (IngestError if it has none) when given, and
    those reading `format` when given; each with `launch` as its launch (not loaded again).
    `locked`: their rows locked (_locked_gates()), in the caller's transaction."""
    values = {"launch_id": launch.pk, "key": key, "format": format}
    values = {name: value for name, value in values.items() if value is not None}
    found = _REPORT_GATES[(key is not None, format is not None, locked)](**values)
    found.sort(key=lambda gate: (gate.order, gate.key))  # spec order (locked: in id order)
    if key is not None and not found and not locked:
        raise IngestError(400, f"launch {launch.slug!r} has no report gate {key!r}")
    for gate in found:
        gate.launch = launch
    return found


def _report_gates_query(*, with_key: bool, with_format: bool, locked: bool) -> PreparedQuery:
    """_report_gates()'s read of one shape (a key or not, a format or not, locked or not)."""

    def build(launch_id: int, key: str | None = None, format: str | None = None):
        gates = Gate.objects.filter(launch_id=launch_id).active().filter(source=Source.REPORT)
        if with_key:
            gates = gates.filter(key=key)
        if with_format:
            gates = gates.filter(format=format)
        return _locked_gates(gates) if locked else gates

    kinds = {
        "launch_id": int,
        "key": str if with_key else None,
        "format": str if with_format else None,
    }
    return PreparedQuery(build, **{name: kind for name, kind in kinds.items() if kind})


# Built once per process (portal.prepared): every report ingest reads its gates.
_REPORT_GATES = {
    shape: _report_gates_query(with_key=shape[0], with_format=shape[1], locked=shape[2])
    for shape in itertools.product((False, True), repeat=3)
}


# --- people -------------------------------------------------------------------------------------


def attest(*, gate: Gate, user, comment: str, evidence: Evidence | None = None) -> Measurement:
    """A named person confirms a manual gate; it holds until the gate's max_age runs out."""
    gate.launch.refuse_if_closed()  # a closed launch is read-only
    if gate.source != Source.MANUAL:
        raise ValueError(f"{gate.key} is a {gate.source} gate: only manual gates are attested")
    name = user.get_full_name() or user.get_username()
    reading = Reading(
        value=Decimal(1),
        detail={"attested_by": name, "user_id": user.pk, "comment": comment},
        evidence=evidence,
    )
    with transaction.atomic():
        measurement = record_reading(gate=gate, reading=reading, actor=user)
        record(
            actor=user,
            action="gate.attested",
            launch_slug=gate.launch.slug,
            obj_type="gate",
            obj_key=gate.key,
            data={"comment": comment, "measurement": measurement.pk},
        )
        _attestation_made(gate, user, measurement.evaluated_at)
    return measurement


def _attestation_made(gate: Gate, user, now) -> None:
    """The attester produced the gate's evidence: their approvals over it no longer hold."""
    signals.evidence_produced.send(
        sender=Gate, gate=gate, user=user, what="an attestation", now=now, actor=user
    )


def waiver_limit(launch, now) -> tuple[datetime, str]:
    """The latest moment a waiver asked for at `now` may run to, and the rule that sets it."""
    longest = now + timedelta(days=launch.waiver_max_days)
    after_launch = launch.target_t0 + timedelta(hours=24)
    if not launch.waivers_outlast_launch and after_launch < longest:
        return after_launch, "no waiver of this launch may run past T+24h"
    return longest, f"the longest waiver this launch allows is {launch.waiver_max_days} days"


def update_covering_waiver(*, gate_id: int) -> None:
    """Keep on the gate the waiver that covers it (Waiver.objects.covering()), in the caller's
    transaction, after any write to its waivers. The gate row is locked first: the UPDATE's
    subquery then sees a grant or revocation of the same gate committed meanwhile."""
    with transaction.atomic(savepoint=False):
        locked = Gate.objects.select_for_update().filter(pk=gate_id)
        launch_id = locked.values_list("launch_id", flat=True).get()
        covering = Waiver.objects.covering().filter(gate_id=gate_id).values("pk")[:1]
        Gate.objects.filter(pk=gate_id).update(covering_waiver=Subquery(covering))
        rows.bump(launch_id)  # the gate's row shows its waiver
