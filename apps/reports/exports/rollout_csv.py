"""Launch day in the export: rollout_runs.csv (a row per stage of each run), rollout_readings.csv
and rollout_hooks.csv (the deploy tools' calls), streamed within the export's time range."""

from django.db.models import Q

from apps.audit.services import canonical_json
from apps.gates.models import format_decimal
from apps.launches.models import Launch
from apps.rollouts.models import AnalysisReading, HookCall, StageRun

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
