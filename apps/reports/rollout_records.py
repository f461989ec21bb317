"""Launch day in the records: rollout runs, their stages and readings, and the deploy tools' hook
calls, for the packet's "Launch day" section (bounded queries) and the export's CSVs (streamed)."""

from dataclasses import dataclass

from django.db.models import Count, Max, Min, Prefetch, Q

from apps.audit.services import canonical_json
from apps.gates.models import format_decimal
from apps.launches.models import Launch
from apps.rollouts.models import AnalysisReading, HookCall, RolloutRun, StageRun

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


RUN_HEADER = [
    "run", "status", "reason", "driver", "started_by", "started_at", "finished_at", "checksum",
    "interval_seconds", "count", "failure_limit", "inconclusive_limit", "stage_order",
    "stage", "traffic", "stage_status", "stage_started_at", "stage_passed_at",
    "stage_finished_at", "analyses", "passes_in_row", "failures", "inconclusives",
]  # fmt: skip


def run_rows(launch: Launch, during: Q):
    """One row per stage of each run (run fields repeated), runs in the order they started."""
    stages = (
        StageRun.objects.filter(run__launch=launch)
        .filter(during)
        .select_related("run")
        .order_by("run__started_at", "run_id", "order")
    )
    for s in stages.iterator(chunk_size=2000):
        r = s.run
        yield [
            r.pk, r.status, r.reason, r.driver, r.started_by, _iso(r.started_at),
            _iso(r.finished_at), r.checksum, int(r.interval.total_seconds()), r.count,
            r.failure_limit, r.inconclusive_limit, s.order, s.name, s.traffic, s.status,
            _iso(s.started_at), _iso(s.passed_at), _iso(s.finished_at), s.analyses,
            s.passes_in_row, s.failures, s.inconclusives,
        ]  # fmt: skip


READING_HEADER = [
    "id", "run", "stage", "kind", "name", "query", "comparator", "threshold", "unit", "value",
    "status", "reason", "at", "slot", "detail",
]  # fmt: skip


def reading_rows(launch: Launch, during: Q):
    readings = (
        AnalysisReading.objects.filter(run__launch=launch)
        .filter(during)
        .select_related("stage")
        .order_by("run_id", "slot", "kind", "name")
    )
    for r in readings.iterator(chunk_size=2000):
        yield [
            r.pk, r.run_id, r.stage.name if r.stage else "", r.kind, r.name, r.query,
            r.comparator, format_decimal(r.threshold), r.unit, format_decimal(r.value), r.status,
            r.reason, _iso(r.at), _iso(r.slot), canonical_json(r.detail),
        ]  # fmt: skip


HOOK_HEADER = [
    "id", "at", "hook", "run", "status_code", "answer", "caller", "name", "namespace", "phase",
    "checksum", "metadata",
]  # fmt: skip


def hook_rows(launch: Launch, during: Q):
    """Each deploy tool call with the fields of Flagger's body as stored."""
    calls = HookCall.objects.filter(launch=launch).filter(during).order_by("at", "id")
    for c in calls.iterator(chunk_size=2000):
        body = c.body if isinstance(c.body, dict) else {}
        yield [
            c.pk, _iso(c.at), c.hook, c.run_id or "", c.status_code, c.answer, c.caller,
            body.get("name", ""), body.get("namespace", ""), body.get("phase", ""),
            body.get("checksum", ""), canonical_json(body.get("metadata") or {}),
        ]  # fmt: skip


def _iso(moment) -> str:
    return moment.isoformat() if moment else ""
