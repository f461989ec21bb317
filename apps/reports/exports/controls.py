"""The SOC2 mapping: per Trust Services Criterion, its gates, their evidence and who signed them.

One home for both the `/launches/<slug>/controls/` page and `controls.csv` of the export.
A gate names its criteria in the spec (`controls: [CC8.1]`); a sign-off covers a gate when its
role's categories hold the gate's category.
"""

import re
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count

from apps.gates.models import Gate, GateStatus, Measurement
from apps.launches.models import Launch
from apps.reports.packets.render import packet_gates
from apps.signoffs.models import Role, SignOff

# Short titles of the 2017 Trust Services Criteria the portal's launches name; others show bare.
TITLES = {
    "CC1.1": "Commitment to integrity and ethical values",
    "CC1.4": "Attracts, develops and retains competent people",
    "CC2.1": "Relevant, quality information for internal control",
    "CC2.2": "Internal communication of objectives and responsibilities",
    "CC2.3": "Communication with external parties",
    "CC3.1": "Objectives specified clearly enough to assess risks",
    "CC3.2": "Risks identified and analysed",
    "CC4.1": "Ongoing and separate evaluations of controls",
    "CC5.1": "Control activities that mitigate risks",
    "CC6.1": "Logical access security",
    "CC6.6": "Protection against threats from outside the system boundary",
    "CC6.7": "Transmission and movement of information restricted",
    "CC6.8": "Unauthorised or malicious software prevented or detected",
    "CC7.1": "Configuration and vulnerability detection",
    "CC7.2": "System components monitored for anomalies",
    "CC7.3": "Security events evaluated",
    "CC7.4": "Security incidents responded to",
    "CC7.5": "Recovery from security incidents",
    "CC8.1": "Change management",
    "CC9.1": "Business disruption risks mitigated",
    "CC9.2": "Vendor and business partner risks managed",
    "A1.1": "Processing capacity maintained and monitored",
    "A1.2": "Backup and recovery infrastructure",
    "A1.3": "Recovery plan tested",
    "C1.1": "Confidential information identified and protected",
    "C1.2": "Confidential information disposed of",
    "P1.1": "Privacy notice",
    "P2.1": "Choice and consent",
    "P4.2": "Personal information retained as committed",
    "P4.3": "Personal information securely disposed of",
    "P5.1": "Access to personal information for review",
}
GOOD = (GateStatus.PASSING, GateStatus.WAIVED)


@dataclass(frozen=True)
class Coverage:
    """A role whose signature covers a gate, and its current (not superseded) sign-off."""

    role: Role
    signoff: SignOff | None

    @property
    def state(self) -> str:
        if self.signoff is None:
            return "not signed"
        if self.signoff.invalidated_at:
            return "invalidated"
        return "valid"

    @property
    def text(self) -> str:
        if self.signoff is None:
            return f"{self.role.name}: not signed"
        s = self.signoff
        return f"{self.role.name}: {s.decision} by {s.printed_name} ({self.state})"


@dataclass(frozen=True)
class ControlGate:
    gate: Gate  # from packet_gates: .status, .status_reason, .value_text, latest annotations
    measurements: int
    coverage: list[Coverage]


@dataclass
class Criterion:
    code: str
    gates: list[ControlGate] = field(default_factory=list)

    @property
    def title(self) -> str:
        return TITLES.get(self.code, "")

    @property
    def holds(self) -> bool:
        """Every gate mapped to the criterion is passing or waived."""
        return all(entry.gate.status in GOOD for entry in self.gates)


@dataclass(frozen=True)
class ControlMap:
    criteria: list[Criterion]
    unmapped: list[Gate]  # active gates that name no criterion


def criterion_order(code: str) -> tuple:
    """CC2.1 before CC10.1: letters, then each number as a number."""
    letters, rest = re.match(r"([A-Za-z]*)(.*)", code).groups()
    return (letters, [int(n) for n in re.findall(r"\d+", rest)], code)


def control_map(launch: Launch, now: datetime, *, measurements=None, categories=None) -> ControlMap:
    """Gates grouped per criterion with status, measurement count and covering sign-offs.

    Four queries: the gates (with newest measurement and waiver), the measurement counts (of
    `measurements`, default all of the launch's), the roles and their current sign-offs.
    """
    gates = [g for g in packet_gates(launch, now) if not categories or g.category in categories]
    if measurements is None:
        measurements = Measurement.objects.filter(gate__launch=launch)
    per_gate = measurements.order_by().values("gate_id").annotate(n=Count("id"))
    counts = {row["gate_id"]: row["n"] for row in per_gate}
    covering = _coverage_by_category(launch)
    criteria: dict[str, Criterion] = {}
    for gate in gates:
        entry = ControlGate(gate, counts.get(gate.pk, 0), covering.get(gate.category, []))
        for code in gate.controls:
            criteria.setdefault(code, Criterion(code)).gates.append(entry)
    ordered = [criteria[code] for code in sorted(criteria, key=criterion_order)]
    return ControlMap(criteria=ordered, unmapped=[g for g in gates if not g.controls])


def _coverage_by_category(launch: Launch) -> dict[str, list[Coverage]]:
    roles = list(launch.roles.filter(retired_at__isnull=True))
    signed = {s.role_id: s for s in SignOff.objects.filter(launch=launch).active()}
    out: dict[str, list[Coverage]] = {}
    for role in roles:
        for category in role.categories:
            out.setdefault(category, []).append(Coverage(role, signed.get(role.pk)))
    return out


def control_csv_rows(control: ControlMap):
    """controls.csv: one row per (criterion, gate)."""
    for criterion in control.criteria:
        for entry in criterion.gates:
            yield [
                criterion.code,
                entry.gate.key,
                entry.gate.name,
                entry.gate.status,
                entry.measurements,
                "; ".join(c.text for c in entry.coverage),
            ]
