"""The sign-off packet: what executives sign and file, rendered to PDF by WeasyPrint.

`packet_context` gathers everything the print template shows; `render_pdf` turns it into bytes,
signed with the portal's key (PAdES, portal/pdfsign.py). Rendering runs off-request (a Celery
task or a management command).
"""

from collections import Counter
from datetime import datetime

from django.template.loader import render_to_string
from weasyprint import HTML

from apps.audit.checkpoints import issue_checkpoint
from apps.audit.models import AuditEvent, chain_name
from apps.gates.models import Gate, GateStatus, format_decimal
from apps.gates.summary import dimension_summary
from apps.launches.models import Launch
from apps.launches.timeline import gantt
from apps.reports.packets.fetcher import PacketFetcher
from apps.reports.packets.launch_day import packet_runs
from apps.signoffs.forecast import launch_forecast
from apps.signoffs.models import SignOff
from apps.signoffs.readiness import readiness
from apps.signoffs.snapshot import launch_digest
from portal.pdfsign import sign_pdf
from portal.signing import grouped, identity

FINAL, INTERIM = "FINAL", "INTERIM"
AUDIT_ROWS = 200  # the packet shows the newest events; the export carries all of them
TEXT_LIMIT = 2000  # untrusted text (comments, reasons) is bounded in print


def packet_status(launch: Launch, state) -> str:
    """FINAL when every required role holds a valid approval, INTERIM otherwise."""
    required = launch.roles.filter(retired_at__isnull=True, required=True)
    return FINAL if all(role.key in state.approvals for role in required) else INTERIM


def packet_gates(launch: Launch, now: datetime) -> list[Gate]:
    """The active gates with their newest measurement, waiver and current status."""
    gates = list(Gate.objects.filter(launch=launch).for_dashboard(now))
    for gate in gates:
        gate.status, gate.status_reason = gate.current_status(now)
        gate.value_text = _value_text(gate)
    return gates


def _value_text(gate: Gate) -> str:
    if gate.latest_value is None:
        return "none"
    return f"{format_decimal(gate.latest_value)} {gate.unit}".strip()


def success_criteria(gates: list[Gate]) -> list[Gate]:
    """The gates the spec names as measuring a launch success criterion, in spec order."""
    return [gate for gate in gates if gate.success_criterion]


def by_category(gates: list[Gate]) -> list[tuple[str, list[Gate]]]:
    """Gates grouped by category, categories in the order of their first gate."""
    groups: dict[str, list[Gate]] = {}
    for gate in gates:
        groups.setdefault(gate.category, []).append(gate)
    return list(groups.items())


def signature_rows(launch: Launch) -> list[SignOff]:
    """Every signature of the launch, newest first per role, with conditions loaded."""
    return list(
        SignOff.objects.filter(launch=launch)
        .select_related("role")
        .prefetch_related("conditions")
        .order_by("role__order", "role__key", "-signed_at", "-id")
    )


def audit_trail(launch: Launch) -> tuple[list[AuditEvent], int, AuditEvent | None]:
    """The newest events of the launch (oldest first), their total, and the chain head."""
    events = AuditEvent.objects.for_launch(launch.slug)
    newest = list(events.reverse()[:AUDIT_ROWS])
    # The head of the launch's own chain: what the packet closes on, beside its checkpoint.
    chain = AuditEvent.objects.in_chain(chain_name(launch.slug)).order_by("-sequence")
    head = chain.only("sequence", "hash", "at", "chain").first()
    return newest[::-1], events.count(), head


def packet_context(launch: Launch, now: datetime) -> dict:
    """Everything the packet shows, as of `now`."""
    gates = packet_gates(launch, now)
    roles = list(launch.roles.filter(retired_at__isnull=True))
    state = readiness(launch, now, gates=gates, roles=roles)
    phases = list(launch.phases.prefetch_related("activities"))
    events, event_count, head = audit_trail(launch)
    digest = launch_digest(launch, now)
    for role in roles:
        role.digest = digest.roles.get(role.key, "")
    for phase in phases:
        activities = list(phase.activities.all())
        phase.total, phase.done = len(activities), sum(a.status == "done" for a in activities)
    counts = Counter(gate.status for gate in gates)
    runs, run_count = packet_runs(launch)
    return {
        "launch": launch,
        "now": now,
        "status": packet_status(launch, state),
        "readiness": state,
        "digest": digest.digest,
        "role_digests": digest.roles,
        "gates": gates,
        "categories": by_category(gates),
        "roles": roles,
        "dimensions": dimension_summary(gates),
        "success_criteria": success_criteria(gates),
        "counts": [(label, counts.get(value, 0)) for value, label in GateStatus.choices],
        "signatures": signature_rows(launch),
        "gantt": gantt(launch, phases, now.date()),
        "phases": phases,
        "events": events,
        "event_count": event_count,
        "chain_head": head,
        "checkpoint": closing_checkpoint(launch),
        "certificate_fingerprint": grouped(identity().fingerprint),
        "text_limit": TEXT_LIMIT,
        "decisions": list(launch.decisions.all()[:5]),
        "runs": runs,
        "run_count": run_count,
        "forecast": launch_forecast(launch, now, gates=gates, roles=roles),
    }


def closing_checkpoint(launch: Launch) -> dict:
    """The signed checkpoint of the launch's audit chain the packet closes on (issued now, or the
    newest when the head has not moved): its `as_dict()`, with "sequence" and "head"."""
    return issue_checkpoint(chain=launch.slug).as_dict()


def render_html(context: dict) -> str:
    return render_to_string("reports/packet.html", context)


def render_pdf(context: dict, *, signed: bool = True) -> bytes:
    """The packet PDF of `context`, signed by the portal (`signed=False`: the bench only)."""
    pdf = html_to_pdf(render_html(context))
    return sign_packet(pdf, context) if signed else pdf


def sign_packet(pdf: bytes, context: dict) -> bytes:
    """The portal's PAdES signature, its visible block naming the digest and the checkpoint."""
    launch, status, checkpoint = context["launch"], context["status"], context["checkpoint"]
    closes = f"#{checkpoint['sequence']} {checkpoint['head']}"
    return sign_pdf(
        pdf,
        reason=f"Launch Portal sign-off packet ({status}) of {launch.slug} {launch.version}",
        stamp_text=f"Launch Portal sign-off packet ({status}): {launch.slug} {launch.version}\n"
        f"Launch digest {context['digest']}\nAudit checkpoint {closes}",
    )


def render_packet(launch: Launch, *, now: datetime, signed: bool = True) -> bytes:
    """The packet PDF of `launch` as of `now`; nothing is fetched while rendering."""
    return render_pdf(packet_context(launch, now), signed=signed)


def html_to_pdf(html: str) -> bytes:
    """Render trusted template output to PDF with a fetcher that refuses every URL."""
    document = HTML(string=html, base_url=None, url_fetcher=PacketFetcher())
    return document.write_pdf()
