"""The packet's "Launch day" section: the newest rollout runs, their stages and a line per
criterion of their readings, in bounded queries (the export's CSVs carry every row:
apps/reports/exports/rollout_csv.py)."""

from dataclasses import dataclass

from django.db.models import Count, Max, Min, Prefetch, Q

from apps.gates.models import format_decimal
from apps.launches.models import Launch
from apps.rollouts.models import AnalysisReading, RolloutRun, StageRun

PACKET_RUNS = 10  # the packet shows the newest runs; the export carries every one


@dataclass(frozen=True)
class CriterionSummary:
    """The readings of one criterion or trigger over a run, in a line."""

    kind: str
    name: str
    rule: str
    readings: int
    passing: int
    failing: int
    unknown: int
    low: str
    high: str


def packet_runs(launch: Launch) -> tuple[list[RolloutRun], int]:
    """The newest runs with their stages and per-criterion summaries, and how many runs there are:
    three queries (runs, stages, summaries) whatever the number of gates, runs or readings."""
    runs = list(
        RolloutRun.objects.filter(launch=launch)
        .prefetch_related(Prefetch("stages", queryset=StageRun.objects.order_by("order")))
        .order_by("-started_at", "-id")[:PACKET_RUNS]
    )
    summaries = reading_summaries([run.pk for run in runs])
    for run in runs:
        run.criteria_summary = summaries.get(run.pk, [])
    total = len(runs) if len(runs) < PACKET_RUNS else launch.rollout_runs.count()
    return runs, total


def reading_summaries(run_ids: list[int]) -> dict[int, list[CriterionSummary]]:
    """Per run: each criterion's count of readings by status and its lowest and highest value."""
    if not run_ids:
        return {}
    rows = (
        AnalysisReading.objects.filter(run_id__in=run_ids)
        .values("run_id", "kind", "name", "comparator", "threshold", "unit")
        .annotate(
            n=Count("id"), low=Min("value"), high=Max("value"),
            passing=Count("id", filter=Q(status="passing")),
            failing=Count("id", filter=Q(status="failing")),
            unknown=Count("id", filter=Q(status="unknown")),
        )
        .order_by("run_id", "kind", "name")
    )  # fmt: skip
    out: dict[int, list[CriterionSummary]] = {}
    for row in rows:
        rule = f"{row['comparator']} {format_decimal(row['threshold'])} {row['unit']}".strip()
        out.setdefault(row["run_id"], []).append(CriterionSummary(
            kind=row["kind"], name=row["name"], rule=rule, readings=row["n"],
            passing=row["passing"], failing=row["failing"], unknown=row["unknown"],
            low=format_decimal(row["low"]), high=format_decimal(row["high"]),
        ))  # fmt: skip
    return out
