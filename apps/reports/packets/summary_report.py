"""The metrics summary report (8.6), issued when a launch admin closes a launch: SLOs over the
launch window, the rollout's timeline and readings, the post-launch comparison and verdict, gates,
decisions, sign-offs and lessons learned. Rendered by WeasyPrint like the packet, signed with the
portal's key (PAdES), stored once by SHA-256 and known to /verify/ by it."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Avg, Count, Max, Min, Q
from django.template.loader import render_to_string

from apps.gates.models import Measurement, Source, format_decimal
from apps.launches.models import Launch
from apps.reports.packets.render import (
    closing_checkpoint,
    html_to_pdf,
    packet_gates,
    signature_rows,
)
from apps.reports.packets.store import store_pdf
from apps.rollouts.models import AnalysisReading, RolloutRun
from apps.rollouts.postlaunch import ATTESTATION_CATEGORY, post_launch_summary
from portal import storage
from portal.pdfsign import sign_pdf
from portal.signing import grouped, identity

KIND = "metrics summary report"
LAUNCH_WINDOW = timedelta(hours=24)  # T-0 .. T+24h: 8.4's critical monitoring
TEXT_LIMIT = 2000


@dataclass(frozen=True)
class SloRow:
    """A Prometheus gate over the launch window: its readings' spread and its status now."""

    key: str
    name: str
    rule: str
    unit: str
    readings: int
    minimum: Decimal | None
    mean: Decimal | None
    maximum: Decimal | None
    failing: int
    status: str

    def text(self, value: Decimal | None) -> str:
        return "none" if value is None else f"{format_decimal(value)} {self.unit}".strip()


@dataclass(frozen=True)
class Issued:
    """A summary report rendered, signed and written to the store."""

    sha256: str
    size: int
    path: str


def slo_rows(launch: Launch, gates: list, window: tuple[datetime, datetime]) -> list[SloRow]:
    """The Prometheus gates' readings between T-0 and T+24h (one aggregate query)."""
    measured = Measurement.objects.filter(
        gate__launch=launch, gate__source=Source.PROMETHEUS, evaluated_at__range=window
    )
    spread = {
        row["gate"]: row
        for row in measured.values("gate").annotate(
            n=Count("id"), low=Min("value"), mean=Avg("value"), high=Max("value"),
            failing=Count("id", filter=_failing()),
        )
    }  # fmt: skip
    rows = []
    for gate in (g for g in gates if g.source == Source.PROMETHEUS):
        found = spread.get(gate.pk, {})
        mean = found.get("mean")
        rows.append(SloRow(
            key=gate.key, name=gate.name, unit=gate.unit,
            rule=f"{gate.comparator} {format_decimal(gate.threshold)}",
            readings=found.get("n", 0), minimum=found.get("low"),
            mean=None if mean is None else Decimal(mean).quantize(Decimal("0.000001")),
            maximum=found.get("high"), failing=found.get("failing", 0), status=gate.status,
        ))  # fmt: skip
    return rows


def _failing() -> Q:
    return Q(status="failing")


def rollout_timeline(launch: Launch) -> list[RolloutRun]:
    """The launch's runs, oldest first, each with its stages and a digest of its readings per
    stage and criterion (count, min, max, failing) as `run.reading_rows`."""
    runs = RolloutRun.objects.filter(launch=launch).prefetch_related("stages")
    runs = list(runs.order_by("started_at", "id"))
    readings = (
        AnalysisReading.objects.filter(run__launch=launch)
        .values("run", "stage__name", "kind", "name", "unit")
        .annotate(n=Count("id"), low=Min("value"), high=Max("value"),
                  failing=Count("id", filter=_failing()))
        .order_by("run", "stage__name", "kind", "name")
    )  # fmt: skip
    by_run: dict[int, list] = {}
    for row in readings:
        by_run.setdefault(row["run"], []).append(row)
    for run in runs:
        run.reading_rows = by_run.get(run.pk, [])
    return runs


def lessons_learned(launch: Launch) -> list[dict]:
    """The post-launch attestations (user acceptance, lessons learned) with who attested, when
    and what they wrote (the newest attestation of each manual post-launch gate)."""
    measurements = Measurement.objects.filter(
        gate__launch=launch, gate__category=ATTESTATION_CATEGORY, gate__source=Source.MANUAL,
        gate__retired_at__isnull=True,
    ).select_related("gate")  # fmt: skip
    measurements = measurements.order_by("gate__order", "gate__key", "-evaluated_at", "-id")
    newest: dict[int, dict] = {}
    for m in measurements:
        if m.gate_id not in newest:
            detail = m.source_detail or {}
            newest[m.gate_id] = {
                "key": m.gate.key, "name": m.gate.name, "at": m.evaluated_at,
                "by": detail.get("attested_by", ""), "comment": detail.get("comment", ""),
            }  # fmt: skip
    return list(newest.values())


def summary_context(launch: Launch, *, now: datetime, closed_by: str, reason: str) -> dict:
    """Everything the report shows, as of `now` (the moment of closing)."""
    gates = packet_gates(launch, now)
    t0 = launch.target_t0
    window = (t0, t0 + LAUNCH_WINDOW)
    return {
        "launch": launch,
        "now": now,
        "closed_by": closed_by,
        "reason": reason,
        "launch_window": window,
        "slos": slo_rows(launch, gates, window),
        "runs": rollout_timeline(launch),
        "post_launch": post_launch_summary(launch, now),
        "gates": gates,
        "decisions": list(launch.decisions.all()),
        "signatures": signature_rows(launch),
        "lessons": lessons_learned(launch),
        "checkpoint": closing_checkpoint(launch),
        "certificate_fingerprint": grouped(identity().fingerprint),
        "text_limit": TEXT_LIMIT,
    }


def render_summary(context: dict) -> bytes:
    """The report PDF, signed by the portal."""
    pdf = html_to_pdf(render_to_string("reports/summary.html", context))
    launch, checkpoint = context["launch"], context["checkpoint"]
    verdict = context["post_launch"].state_text
    return sign_pdf(
        pdf,
        reason=f"Launch Portal metrics summary report of {launch.slug} {launch.version}",
        stamp_text=f"Launch Portal metrics summary report: {launch.slug} {launch.version}\n"
        f"Post-launch validation: {verdict}\n"
        f"Audit checkpoint #{checkpoint['sequence']} {checkpoint['head']}",
    )


def issue_summary(launch: Launch, *, now: datetime, closed_by: str, reason: str) -> Issued:
    """Render, sign and store the report (no database write): the caller records it."""
    pdf = render_summary(summary_context(launch, now=now, closed_by=closed_by, reason=reason))
    sha256 = hashlib.sha256(pdf).hexdigest()
    return Issued(sha256, len(pdf), store_pdf(pdf, sha256))


def summary_filename(launch: Launch) -> str:
    return f"{launch.slug}-metrics-summary-{launch.summary_sha256[:12]}.pdf"


def open_report(launch: Launch):
    """The stored summary report opened for reading (MissingFile if its storage lost it)."""
    return storage.open_stored(storage.PACKETS, launch.summary_path)
