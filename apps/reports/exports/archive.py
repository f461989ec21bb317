"""The evidence export: one ZIP an auditor can check without trusting the portal.

Written member by member to a file object with constant memory: evidence files are copied in
chunks, CSV rows are written as they are read, and each member is hashed while it is written.
`manifest.json` comes last, listing every other member with its SHA-256 and size, the launch
digest, the audit checkpoint and the signing certificate's SHA-256; its canonical bytes are
signed by the portal (`manifest.json.jws`, a detached JWS) and the certificate chain travels in
`signing-certificate.pem`, so verify.py proves origin, not only consistency.
"""

import csv
import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from django.db.models import Q
from django.utils import timezone

from apps.audit.checkpoints import issue_checkpoint
from apps.audit.models import AuditEvent
from apps.audit.services import canonical_json, event_body
from apps.gates.models import Evidence, Gate, Measurement, Waiver, format_decimal
from apps.launches.models import Launch
from apps.reports.exports import rollout_csv
from apps.reports.exports.controls import control_csv_rows, control_map
from apps.reports.models import Packet
from apps.reports.packets.render import packet_gates
from apps.reports.packets.store import ensure_packet
from apps.signoffs.models import SignOff
from portal import signing, storage
from portal.csvsafe import safe_cell

# Copied into every export as verify.py: a standalone script that imports nothing of the portal.
VERIFY_SCRIPT = Path(__file__).with_name("verify_script.py")
MANIFEST, SIGNATURE, CERTIFICATE = "manifest.json", "manifest.json.jws", "signing-certificate.pem"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Scope:
    """What an export covers: one launch, optionally a time range and some gate categories."""

    launch: Launch
    since: datetime | None = None
    until: datetime | None = None
    categories: tuple[str, ...] | None = None

    def during(self, name: str) -> Q:
        """A filter keeping rows whose `name` time falls in [since, until)."""
        query = Q()
        if self.since:
            query &= Q(**{f"{name}__gte": self.since})
        if self.until:
            query &= Q(**{f"{name}__lt": self.until})
        return query

    def gates(self):
        gates = Gate.objects.filter(launch=self.launch)
        return gates.filter(category__in=self.categories) if self.categories else gates


@dataclass
class Archive:
    """A ZIP being written, with the SHA-256 and size of each member so far."""

    zf: zipfile.ZipFile
    files: dict[str, dict] = field(default_factory=dict)

    def write_stream(self, name: str, chunks) -> None:
        digest, size = hashlib.sha256(), 0
        with self.zf.open(name, "w", force_zip64=True) as member:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                member.write(chunk)
        self.files[name] = {"sha256": digest.hexdigest(), "size": size}

    def write_bytes(self, name: str, data: bytes) -> None:
        self.write_stream(name, [data])

    def write_file(self, name: str, path: Path) -> None:
        with open(path, "rb") as source:
            self.write_stream(name, iter(lambda: source.read(CHUNK), b""))

    def write_stored(self, name: str, kind: str, stored_name: str) -> None:
        """A member copied in chunks from a file in one of the portal's storages."""
        self.write_stream(name, storage.chunks(kind, stored_name))

    def write_csv(self, name: str, header: list[str], rows) -> None:
        """Every cell through safe_cell (CSV injection, RELIABILITY case 19)."""
        self.write_stream(name, _csv_chunks(header, rows))


def _csv_chunks(header: list[str], rows, batch: int = 500):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(cell) for cell in header])
    for count, row in enumerate(rows, 1):
        writer.writerow([safe_cell(cell) for cell in row])
        if count % batch == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


def export_evidence(
    launch: Launch,
    out,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    categories=None,
    now: datetime | None = None,
    packet: Packet | None = None,
) -> dict:
    """Write the launch's evidence ZIP to the binary file object `out`; return the manifest.

    `packet.pdf` is the packet as the portal issued it (stored, on /verify/): `packet`, else the
    current one, else one built now (see ensure_packet). Nothing is rendered when a current packet
    exists, so the export itself stays small in memory whatever the evidence size.
    """
    now = now or timezone.now()
    if packet is None:
        packet = ensure_packet(launch=launch, actor="evidence export", now=now)
    scope = Scope(launch, since, until, tuple(categories) if categories else None)
    # Signed before the log is written, so the log reaches it (and may run past it).
    checkpoint = issue_checkpoint(chain=launch.slug).as_dict()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        archive = Archive(zf)
        archive.write_stored("packet.pdf", storage.PACKETS, packet.path)
        write_tables(archive, scope, now)
        log = write_audit_log(archive, scope)
        write_evidence_files(archive, scope)
        archive.write_file("verify.py", VERIFY_SCRIPT)
        archive.write_bytes(CERTIFICATE, signing.identity().certificate_pem())
        manifest = build_manifest(archive, scope, now, log, checkpoint, packet)
        write_signed_manifest(zf, manifest_bytes(manifest))
    return manifest


def write_signed_manifest(zf: zipfile.ZipFile, data: bytes) -> None:
    """manifest.json and its detached signature, over the very bytes written."""
    zf.writestr(MANIFEST, data)
    zf.writestr(SIGNATURE, signing.sign(data))


def write_tables(archive: Archive, scope: Scope, now: datetime) -> None:
    archive.write_csv("gates.csv", GATE_HEADER, gate_rows(scope, now))
    archive.write_csv("measurements.csv", MEASUREMENT_HEADER, measurement_rows(scope))
    archive.write_csv("signoffs.csv", SIGNOFF_HEADER, signoff_rows(scope))
    archive.write_csv("waivers.csv", WAIVER_HEADER, waiver_rows(scope))
    archive.write_csv("decisions.csv", DECISION_HEADER, decision_rows(scope))
    archive.write_csv("controls.csv", CONTROL_HEADER, control_rows(scope, now))
    write_launch_day(archive, scope)


def write_launch_day(archive: Archive, scope: Scope) -> None:
    """Rollout runs (a row per stage), readings and hook calls: every gate category's, within
    the time range (a run by its start)."""
    launch, records = scope.launch, rollout_csv
    runs, at = scope.during("run__started_at"), scope.during("at")
    archive.write_csv("rollout_runs.csv", records.RUN_HEADER, records.run_rows(launch, runs))
    archive.write_csv("rollout_readings.csv", records.READING_HEADER,
                      records.reading_rows(launch, at))  # fmt: skip
    archive.write_csv("rollout_hooks.csv", records.HOOK_HEADER, records.hook_rows(launch, at))


GATE_HEADER = [
    "key",
    "name",
    "category",
    "dimension",
    "blocking",
    "rule",
    "controls",
    "status",
    "reason",
    "latest_value",
    "evaluated_at",
    "evidence_sha256",
    "waiver_until",
    "waiver_reason",
]


def gate_rows(scope: Scope, now: datetime):
    gates = [
        g
        for g in packet_gates(scope.launch, now)
        if not scope.categories or g.category in scope.categories
    ]
    for g in gates:
        yield [
            g.key,
            g.name,
            g.category,
            g.dimension,
            g.blocking,
            g.rule_text(),
            " ".join(g.controls),
            g.status,
            g.status_reason,
            format_decimal(g.latest_value),
            _iso(g.last_measured_at),
            g.latest_evidence or "",
            _iso(g.waiver_expires_at),
            g.waiver_reason or "",
        ]


MEASUREMENT_HEADER = [
    "id",
    "gate",
    "evaluated_at",
    "status",
    "value",
    "unit",
    "reason",
    "evidence_sha256",
    "source_detail",
]


def measurements(scope: Scope):
    return (
        Measurement.objects.filter(gate__in=scope.gates())
        .filter(scope.during("evaluated_at"))
        .select_related("gate")
        .order_by("evaluated_at", "id")
    )


def measurement_rows(scope: Scope):
    for m in measurements(scope).iterator(chunk_size=2000):
        yield [
            m.id,
            m.gate.key,
            _iso(m.evaluated_at),
            m.status,
            format_decimal(m.value),
            m.gate.unit,
            m.reason,
            m.evidence_id or "",
            canonical_json(m.source_detail),
        ]


SIGNOFF_HEADER = [
    "id",
    "role",
    "printed_name",
    "signer_email",
    "on_behalf_of",
    "decision",
    "meaning",
    "comment",
    "conditions",
    "signed_at",
    "ip",
    "user_agent",
    "reauth_method",
    "digest",
    "state",
    "superseded_at",
    "invalidated_at",
    "invalidated_reason",
    "invalidated_gate",
]


def signoff_rows(scope: Scope):
    signoffs = (
        SignOff.objects.filter(launch=scope.launch)
        .filter(scope.during("signed_at"))
        .select_related("role")
        .prefetch_related("conditions")
        .order_by("signed_at", "id")
    )
    for s in signoffs:
        conditions = "; ".join(
            f"{c.text} (owner {c.owner}, due {_iso(c.due_at)})" for c in s.conditions.all()
        )
        yield [
            s.id,
            s.role.key,
            s.printed_name,
            s.signer_email,
            s.on_behalf_of,
            s.decision,
            s.meaning,
            s.comment,
            conditions,
            _iso(s.signed_at),
            s.ip or "",
            s.user_agent,
            s.reauth_method,
            s.digest,
            signoff_state(s),
            _iso(s.superseded_at),
            _iso(s.invalidated_at),
            s.invalidated_reason,
            s.invalidated_gate,
        ]


def signoff_state(signoff: SignOff) -> str:
    if signoff.invalidated_at:
        return "invalidated"
    return "superseded" if signoff.superseded_at else "valid"


WAIVER_HEADER = ["id", "gate", "reason", "requested_by", "requested_at", "granted_by",
                 "granted_at", "expires_at", "refused_by", "refused_at", "refusal_reason",
                 "revoked_by", "revoked_at", "revoke_reason"]  # fmt: skip


def waiver_rows(scope: Scope):
    waivers = (
        Waiver.objects.filter(gate__in=scope.gates())
        .filter(scope.during("requested_at"))
        .select_related("gate")
        .order_by("requested_at", "id")
    )
    for w in waivers:
        yield [
            w.id, w.gate.key, w.reason, w.requested_by_name, _iso(w.requested_at),
            w.granted_by_name, _iso(w.granted_at), _iso(w.expires_at), w.refused_by_name,
            _iso(w.refused_at), w.refusal_reason, w.revoked_by_name, _iso(w.revoked_at),
            w.revoke_reason,
        ]  # fmt: skip


DECISION_HEADER = [
    "id",
    "decision",
    "recommendation",
    "decided_by",
    "decided_at",
    "attendees",
    "notes",
    "blockers",
    "role",
    "on_behalf_of",
    "override",
    "override_reason",
    "supersedes",
]


def decision_rows(scope: Scope):
    for d in scope.launch.decisions.filter(scope.during("decided_at")).order_by("decided_at"):
        yield [
            d.id,
            d.decision,
            d.recommendation,
            d.decided_by_name,
            _iso(d.decided_at),
            d.attendees,
            d.notes,
            canonical_json(d.blockers),
            d.role,
            d.on_behalf_of,
            d.override,
            d.override_reason,
            d.supersedes_id or "",
        ]


CONTROL_HEADER = ["criterion", "gate", "gate_name", "status", "measurements", "signoffs"]


def control_rows(scope: Scope, now: datetime):
    """One row per (SOC2 criterion, gate): the same mapping as the controls page."""
    mapping = control_map(
        scope.launch, now, measurements=measurements(scope), categories=scope.categories
    )
    return control_csv_rows(mapping)


def audit_events(scope: Scope):
    """The launch's events in append order: its older ones in the portal chain, then its own."""
    return AuditEvent.objects.for_launch(scope.launch.slug).filter(scope.during("at"))


def write_audit_log(archive: Archive, scope: Scope) -> dict:
    """audit_log.jsonl: every hashed field of each event, with its chain, prev_hash and hash."""
    summary = {"events": 0, "first_sequence": None, "last_sequence": None, "last_hash": ""}

    def lines():
        for event in audit_events(scope).iterator(chunk_size=2000):
            row = {**event_body(event), "chain": event.chain, "prev_hash": event.prev_hash,
                   "hash": event.hash}  # fmt: skip
            summary["events"] += 1
            summary["first_sequence"] = summary["first_sequence"] or event.sequence
            summary["last_sequence"], summary["last_hash"] = event.sequence, event.hash
            yield (canonical_json(row) + "\n").encode()

    archive.write_stream("audit_log.jsonl", lines())
    return summary


def write_evidence_files(archive: Archive, scope: Scope) -> None:
    """Raw evidence of the exported measurements, under evidence/<sha256>."""
    shas = measurements(scope).exclude(evidence=None).values("evidence_id")
    for evidence in Evidence.objects.filter(sha256__in=shas).order_by("sha256").iterator():
        archive.write_stored(f"evidence/{evidence.sha256}", storage.EVIDENCE, evidence.path)


def build_manifest(
    archive: Archive, scope: Scope, now: datetime, log: dict, checkpoint: dict, packet: Packet
) -> dict:
    launch = scope.launch
    return {
        "format": "launch-portal-evidence/2",
        "launch": {"slug": launch.slug, "name": launch.name, "version": launch.version},
        "generated_at": _iso(now),
        "range": {"since": _iso(scope.since), "until": _iso(scope.until)},
        "categories": list(scope.categories or []),
        "audit": checkpoint,
        "audit_log": log,
        "packet": {
            "sha256": packet.sha256,
            "status": packet.status,
            "built_at": _iso(packet.built_at),
            "launch_digest": packet.digest,
        },
        "signing": {
            "certificate": CERTIFICATE,
            "certificate_sha256": signing.identity().fingerprint,
            "signature": SIGNATURE,
        },
        "files": dict(sorted(archive.files.items())),
    }


def manifest_bytes(manifest: dict) -> bytes:
    """The canonical bytes written as manifest.json and signed (sorted keys, compact, UTF-8)."""
    return (canonical_json(manifest) + "\n").encode()


def manifest_sha256(manifest: dict) -> str:
    """SHA-256 of manifest.json as written: what /verify/ knows an export by, beside its ZIP's."""
    return hashlib.sha256(manifest_bytes(manifest)).hexdigest()


def _iso(moment: datetime | None) -> str:
    return moment.isoformat() if moment else ""
