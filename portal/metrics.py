"""/metrics: the Prometheus exposition of the web processes and of the portal's own work.

- Request latency histograms and counts: django-prometheus's middleware, in each web process.
  Under gunicorn's several workers, prometheus_client's multiprocess mode adds them up
  (PROMETHEUS_MULTIPROC_DIR, set by docker/gunicorn.conf.py).
- Report ingest sizes: a histogram observed here, in the web process that took the upload.
- Everything the Celery workers do (evaluations and their outcomes, source errors, evaluation
  durations, status changes), sign-offs and gate states are read from the database: at most once
  per METRICS_DB_INTERVAL seconds across all web replicas, as a snapshot kept in the shared cache
  (database_snapshot); its time is launch_portal_metrics_computed_timestamp_seconds. The queue
  depth is read from the broker at each scrape.

Only loopback and private addresses (METRICS_ALLOWED_NETWORKS) reaching the portal directly, or a
caller with `Authorization: Bearer $METRICS_TOKEN`, may read it.
"""

import ipaddress
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.db.models import Count, Max, Min, Q, QuerySet, Sum
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.views.decorators.http import require_GET
from kombu import Connection
from kombu.exceptions import ChannelError
from prometheus_client import REGISTRY, CollectorRegistry, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from apps.gates.models import Gate, GateStatus, Measurement, Source, StatusChange
from apps.signoffs.models import Decision, SignOff
from portal.http import client_ip

log = logging.getLogger(__name__)

REPORT_INGEST_BYTES = Histogram(
    "launch_portal_report_ingest_bytes",
    "Size of report uploads to the ingest API, as sent (before gzip is inflated).",
    ["outcome"],
    buckets=(1_024, 16_384, 131_072, 1_048_576, 8_388_608, 26_214_400, float("inf")),
)
# Polled evaluations (a claimed slot, run by a worker): query or download, parse, judge, store.
EVALUATION_BUCKETS_MS = (5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000)
# Longer than any transaction that writes measurements lasts (tasks stop after 120 s).
SETTLE = timedelta(minutes=5)


class AppendOnlyTotals:
    """Running totals of an append-only table, grouped by some columns, kept in this process.

    The first scrape counts every row (about a second for 2.4 million measurements); later
    scrapes count only the rows above the id they reached, along the primary key. An id is
    drawn before its transaction commits, so a lower id can become visible after a higher one:
    rows younger than SETTLE (by `time_field`) are counted afresh on every scrape and folded into
    the kept totals only once they are older. A process restart counts everything again, to the
    same totals: they are the table's, not the process's.
    """

    def __init__(
        self,
        queryset: Callable[[], QuerySet],
        *,
        time_field: str,
        group_by: tuple[str, ...],
        aggregates: Callable[[], dict],
    ) -> None:
        self.queryset, self.time_field = queryset, time_field
        self.group_by, self.aggregates = group_by, aggregates
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget the kept totals: the next scrape counts every row again."""
        with self._lock:
            self._upto = 0
            self._kept: dict[tuple, Counter] = {}

    def totals(self, now) -> dict[tuple, Counter]:
        """Totals by group, as of now: at most four queries, over new rows only."""
        with self._lock:
            rows = self.queryset().filter(pk__gt=self._upto)
            top = rows.aggregate(top=Max("pk"))["top"]
            if top is None:
                return _copy(self._kept)
            # Two queries, each along its own index (the primary key, the time column).
            young = rows.filter(**{f"{self.time_field}__gte": now - SETTLE})
            first_young = young.aggregate(first=Min("pk"))["first"]
            settled = top if first_young is None else min(top, first_young - 1)
            if settled > self._upto:
                self._add(self._kept, self._upto, settled)
                self._upto = settled
            totals = _copy(self._kept)
            if top > settled:
                self._add(totals, settled, top)
            return totals

    def _add(self, into: dict[tuple, Counter], after: int, upto: int) -> None:
        rows = (
            self.queryset()
            .filter(pk__gt=after, pk__lte=upto)
            .order_by()
            .values(*self.group_by)
            .annotate(**self.aggregates())
        )
        for row in rows:
            key = tuple(row.pop(name) for name in self.group_by)
            into.setdefault(key, Counter()).update({k: v or 0 for k, v in row.items()})


def _copy(totals: dict[tuple, Counter]) -> dict[tuple, Counter]:
    return {key: Counter(values) for key, values in totals.items()}


def _measurement_aggregates() -> dict:
    polled = Q(slot__isnull=False)
    aggregates = {
        "n": Count("pk"),
        "polled": Count("pk", filter=polled),
        "polled_ms": Sum("duration_ms", filter=polled),
    }
    for ms in EVALUATION_BUCKETS_MS:
        aggregates[f"le_{ms}"] = Count("pk", filter=polled & Q(duration_ms__lte=ms))
    return aggregates


MEASUREMENTS = AppendOnlyTotals(
    lambda: Measurement.objects.all(),
    time_field="evaluated_at",
    group_by=("status", "gate__source"),
    aggregates=_measurement_aggregates,
)
STATUS_CHANGES = AppendOnlyTotals(
    lambda: StatusChange.objects.all(),
    time_field="at",
    group_by=("to_status",),
    aggregates=lambda: {"n": Count("pk")},
)


@dataclass(frozen=True)
class Snapshot:
    """What the database-derived families show, as read at `at` (Unix time, seconds)."""

    at: float
    measurements: dict[tuple, Counter]
    status_changes: dict[tuple, Counter]
    signoffs: dict[str, int]
    gates: dict[str, int]


SNAPSHOT_KEY = "metrics:database-snapshot"
COMPUTING_KEY = "metrics:database-snapshot:computing"
# The claim to compute lapses after this, should its holder die mid-read.
COMPUTING_TIMEOUT = 60
# A replica with no snapshot at all waits this long for the one another replica is reading.
FIRST_WAIT = 10.0


def read_database(now) -> Snapshot:
    """Read every database-derived figure now: a constant number of queries."""
    signed = SignOff.objects.order_by().values_list("decision").annotate(n=Count("pk"))
    states = Gate.objects.active().order_by().values_list("state").annotate(n=Count("pk"))
    return Snapshot(
        at=time.time(),
        measurements=MEASUREMENTS.totals(now),
        status_changes=STATUS_CHANGES.totals(now),
        signoffs=dict(signed),
        gates=dict(states),
    )


def database_snapshot() -> Snapshot:
    """The shared snapshot, read again from the database once it is METRICS_DB_INTERVAL old.

    Of replicas scraping at once, the one whose cache.add() takes COMPUTING_KEY reads the
    database; the others serve the snapshot they have (its computed-at time says how old), or,
    with none yet, wait for the new one. An interval of 0 reads the database on every scrape.
    """
    interval = settings.METRICS_DB_INTERVAL
    if interval <= 0:
        return read_database(timezone.now())
    try:
        kept = cache.get(SNAPSHOT_KEY)
    except DatabaseError:
        raise
    except Exception as exc:  # noqa: BLE001 - Redis down: this replica reads the database
        log.warning("metrics: the cache did not answer: %s", exc)
        return read_database(timezone.now())
    if kept is not None and time.time() - kept.at < interval:
        return kept
    if cache.add(COMPUTING_KEY, os.getpid(), timeout=COMPUTING_TIMEOUT):
        try:
            fresh = read_database(timezone.now())
            cache.set(SNAPSHOT_KEY, fresh, timeout=None)
        finally:
            cache.delete(COMPUTING_KEY)
        return fresh
    return kept if kept is not None else _wait_for_snapshot()


def _wait_for_snapshot() -> Snapshot:
    deadline = time.monotonic() + FIRST_WAIT
    while time.monotonic() < deadline:
        time.sleep(0.1)
        kept = cache.get(SNAPSHOT_KEY)
        if kept is not None:
            return kept
    log.warning("metrics: no snapshot from the replica reading the database; reading it here")
    return read_database(timezone.now())


def _evaluation_families(totals: dict[tuple, Counter]) -> list:
    evaluations = CounterMetricFamily(
        "launch_portal_gate_evaluations",
        "Gate evaluations (measurements stored), by the status given and the gate's source.",
        labels=["status", "source"],
    )
    errors = CounterMetricFamily(
        "launch_portal_source_errors",
        "Evaluations that gave no value (source unreachable, timeout, error answer, empty or "
        "ambiguous result, report without the metric), by the gate's source.",
        labels=["source"],
    )
    duration = HistogramMetricFamily(
        "launch_portal_gate_evaluation_duration_seconds",
        "Duration of polled evaluations (a slot claimed by beat, run by a worker).",
        labels=["source"],
    )
    for source in Source.values:
        for status in GateStatus.values:
            n = totals.get((status, source), Counter())["n"]
            evaluations.add_metric([status, source], n)
        errors.add_metric([source], totals.get((GateStatus.UNKNOWN, source), Counter())["n"])
        polled = sum((c for (_, src), c in totals.items() if src == source), Counter())
        buckets = [(str(ms / 1000), polled[f"le_{ms}"]) for ms in EVALUATION_BUCKETS_MS]
        buckets.append(("+Inf", polled["polled"]))
        duration.add_metric([source], buckets, polled["polled_ms"] / 1000)
    return [evaluations, errors, duration]


def _state_families(snapshot: Snapshot) -> list:
    status_changes = CounterMetricFamily(
        "launch_portal_gate_status_changes",
        "Changes of a gate's guarded status, by the status it changed to.",
        labels=["to"],
    )
    signoffs = CounterMetricFamily(
        "launch_portal_signoffs", "Sign-offs recorded, by decision.", labels=["decision"]
    )
    gates = GaugeMetricFamily(
        "launch_portal_gates", "Active gates by their guarded status.", labels=["state"]
    )
    for status in GateStatus.values:
        changes = snapshot.status_changes.get((status,), Counter())["n"]
        status_changes.add_metric([status], changes)
        gates.add_metric([status], snapshot.gates.get(status, 0))
    for decision in Decision.values:
        signoffs.add_metric([decision], snapshot.signoffs.get(decision, 0))
    computed = GaugeMetricFamily(
        "launch_portal_metrics_computed_timestamp_seconds",
        "When the database-derived figures were read (once per METRICS_DB_INTERVAL, shared).",
        value=snapshot.at,
    )
    return [status_changes, signoffs, gates, computed]


def queue_depth(queue: str) -> int:
    """Tasks waiting in the broker's queue (Redis: LLEN; filesystem: message files; AMQP)."""
    options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}))
    with Connection(
        settings.CELERY_BROKER_URL, transport_options=options, connect_timeout=2
    ) as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        try:
            return conn.default_channel.queue_declare(queue=queue, passive=True).message_count
        except ChannelError:  # Redis drops an empty queue's list: no queue, nothing waiting
            return 0


class PortalCollector:
    """The portal's own figures: the database snapshot (database_snapshot) and the broker."""

    def collect(self) -> Iterator:
        started = time.perf_counter()
        up = GaugeMetricFamily(
            "launch_portal_metrics_source_up",
            "Whether the scrape could read this source (database, broker).",
            labels=["source"],
        )
        try:
            snapshot = database_snapshot()
            families = _evaluation_families(snapshot.measurements) + _state_families(snapshot)
            up.add_metric(["database"], 1)
        except DatabaseError as exc:
            log.warning("metrics: the database did not answer: %s", exc)
            families = []
            up.add_metric(["database"], 0)
        yield from families
        queue = getattr(settings, "CELERY_TASK_DEFAULT_QUEUE", "celery")
        try:
            depth = GaugeMetricFamily(
                "launch_portal_queue_depth", "Tasks waiting in the broker.", labels=["queue"]
            )
            depth.add_metric([queue], queue_depth(queue))
            yield depth
            up.add_metric(["broker"], 1)
        except Exception as exc:  # noqa: BLE001 - any broker failure: report it, keep the rest
            log.warning("metrics: the broker did not answer: %s", exc)
            up.add_metric(["broker"], 0)
        yield up
        yield GaugeMetricFamily(
            "launch_portal_metrics_collect_seconds",
            "How long reading the database and the broker took for this scrape.",
            value=time.perf_counter() - started,
        )


PORTAL_REGISTRY = CollectorRegistry(auto_describe=False)
PORTAL_REGISTRY.register(PortalCollector())


def exposition() -> bytes:
    """The whole /metrics body: the process (or all gunicorn workers) and the portal."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry(auto_describe=False)
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    return generate_latest(processes) + generate_latest(PORTAL_REGISTRY)


# --- who may read it ----------------------------------------------------------------------------


def client_address(request: HttpRequest) -> str | None:
    """The client's address (portal.http), or None when it came through a proxy not trusted.

    Stricter than elsewhere: with no trusted proxy, a forwarded request is refused, since a proxy
    on the same host would make every visitor look like loopback.
    """
    if settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0 and "HTTP_X_FORWARDED_FOR" in request.META:
        return None
    return client_ip(request)


def may_read_metrics(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    auth = request.headers.get("Authorization", "")
    if token and auth.startswith("Bearer ") and constant_time_compare(auth[7:].strip(), token):
        return True
    try:
        address = ipaddress.ip_address(client_address(request) or "")
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped:  # ::ffff:10.0.0.5 from a dual-stack bind
        address = address.ipv4_mapped
    return any(address in network for network in settings.METRICS_ALLOWED_NETWORKS)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    if not may_read_metrics(request):
        log.warning("metrics: refused %s", request.META.get("REMOTE_ADDR"))
        return HttpResponse(
            "Metrics are served to loopback and private addresses, or with the METRICS_TOKEN "
            "bearer token.\n",
            status=403,
            content_type="text/plain",
        )
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


class ReportIngestMetricsMiddleware:
    """Observe the size of every upload to the report ingest API, accepted or refused."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        size = request.META.get("CONTENT_LENGTH") or ""
        if match and match.view_name == "api:report-ingest" and size.isdigit():
            outcome = "accepted" if response.status_code < 300 else "refused"
            REPORT_INGEST_BYTES.labels(outcome).observe(int(size))
        return response
