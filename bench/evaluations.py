"""Gate evaluation throughput: a real Celery worker (concurrency 1) polling Prometheus gates
against a real Prometheus on loopback, and report gates measured by one ingest.

Runs inside a Django process on the bench database (bench/run.py starts it):

    python -m bench.evaluations --gates 1000 --worker-env '{"CELERY_BROKER_URL": ...}'
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EVAL_SLUG = "bench-eval"
JUNIT = ROOT / "tests" / "fixtures" / "reports" / "junit" / "pytest-9.2.0-generated.xml"


def eval_spec(count: int) -> dict:
    """A launch with `count` Prometheus gates (one series each) and `count` JUnit report gates."""
    from bench.dataset import SPEC

    spec = yaml.safe_load(SPEC.read_text())
    spec["launch"].update(slug=EVAL_SLUG, name="Bench evaluation throughput")
    common = {"category": "slo", "dimension": "operational", "blocking": True}
    prometheus = [
        {
            **common,
            "key": f"probe-{i:04d}",
            "name": f"Probe {i}",
            "source": "prometheus",
            "query": f'bench_probe{{probe="{i}"}}',
            "comparator": ">=",
            "threshold": 1,
            "unit": "count",
        }
        for i in range(count)
    ]
    reports = [
        {
            **common,
            "key": f"tests-{i:04d}",
            "name": f"Suite {i}",
            "source": "report",
            "format": "junit",
            "metric": "tests.failed",
            "comparator": "==",
            "threshold": 0,
            "unit": "tests",
            "category": "quality",
        }
        for i in range(count)
    ]
    spec["gates"] = prometheus + reports
    return spec


def ensure_eval_launch(count: int):
    """The evaluation launch, imported once (kept between runs when it has `count` gates)."""
    from apps.gates.models import Source
    from apps.launches.models import Launch
    from apps.specs.services import import_launch_spec

    launch = Launch.objects.filter(slug=EVAL_SLUG).first()
    if launch is None or launch.gates.active().filter(source=Source.PROMETHEUS).count() != count:
        raw = yaml.safe_dump(eval_spec(count), sort_keys=False)
        launch = import_launch_spec(raw=raw, actor="bench evaluations").launch
    return launch


class Worker:
    """`celery -A portal worker --concurrency=1` in its own process group."""

    def __init__(self, *, env: dict, log: Path):
        self.log = log
        self.process = subprocess.Popen(  # noqa: S603 - our own worker
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "portal",
                "worker",
                "--loglevel=WARNING",
                "--concurrency=1",
                "--pool=prefork",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-n",
                f"bench-{os.getpid()}@%h",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def prometheus_throughput(
    launch, *, prometheus_url: str, broker_url: str, workdir: Path, timeout: float = 300
) -> dict:
    """Make every Prometheus gate due, queue one tick, and time the worker's evaluations; twice,
    the rate being the second round's (`first_round`: the first's).

    The first round after the launch was imported, or after its gates went stale, changes every
    gate's status (a status change, an audit event, the webhooks asked): 160-190/s here. The
    second is a poll as the worker makes them all day, a reading that changes no status. Each
    rate is the steady one: (n - 1) / (newest - oldest evaluated_at) over the round's new
    measurements, so the worker's start-up and the tick's claiming are not counted.
    """
    import redis
    from celery import Celery

    from apps.gates.models import Gate, Source

    gates = Gate.objects.filter(launch=launch, source=Source.PROMETHEUS)
    count = gates.count()
    redis.Redis.from_url(broker_url).flushdb()
    worker = Worker(
        env={
            "PROMETHEUS_URL": prometheus_url,
            "CELERY_BROKER_URL": broker_url,
            "LOG_LEVEL": "INFO",
        },
        log=workdir / "worker.log",
    )
    broker = Celery(broker=broker_url)
    try:
        first = _round(launch, gates, count, broker=broker, worker=worker, timeout=timeout)
        steady = _round(launch, gates, count, broker=broker, worker=worker, timeout=timeout)
    finally:
        worker.stop()
    return {**steady, "first_round": first}


def _round(launch, gates, count: int, *, broker, worker: "Worker", timeout: float) -> dict:
    """One tick with every gate of `launch` due, and only those; the rate of its evaluations."""
    from django.utils import timezone

    from apps.gates.models import Gate, Measurement, Source

    gates.update(next_due_at=None)
    # The tick claims every poll that is due: the bench launches' own Prometheus gates (due again
    # since the data set was made) would share the worker with the ones counted here. Not polled
    # in the bench otherwise (bench.inproc freshen).
    others = Gate.objects.filter(source=Source.PROMETHEUS).exclude(launch=launch)
    others.update(next_due_at=timezone.now() + timedelta(days=1))
    started = time.time()
    before = Measurement.objects.filter(gate__launch=launch).order_by("-id").values("id").first()
    new = Measurement.objects.filter(gate__in=gates, id__gt=before["id"] if before else 0)
    broker.send_task("gates.tick")
    deadline = time.monotonic() + timeout
    while new.count() < count and time.monotonic() < deadline:
        if worker.process.poll() is not None:
            raise RuntimeError(f"the worker exited: {worker.log.read_text()[-2000:]}")
        time.sleep(0.5)
    return _rate(new, count, started)


def _rate(new, expected: int, started: float) -> dict:
    from django.db.models import Count, Max, Min

    stats = new.aggregate(n=Count("id"), first=Min("evaluated_at"), last=Max("evaluated_at"))
    n = stats["n"]
    span = (stats["last"] - stats["first"]).total_seconds() if n > 1 else 0.0
    statuses = dict(new.values_list("status").annotate(c=Count("id")).values_list("status", "c"))
    return {
        "evaluations": n,
        "expected": expected,
        "seconds": round(span, 3),
        "per_s": round((n - 1) / span, 1) if span > 0 else None,
        "wall_seconds": round(time.time() - started, 1),
        "statuses": statuses,
    }


def report_throughput(launch, *, repeats: int = 3) -> dict:
    """Ingest one JUnit report that applies to every report gate; evaluations per second of the
    best of `repeats` (each ingest measures every gate once)."""
    from apps.gates.models import Source
    from apps.gates.services import ingest_report

    count = launch.gates.active().filter(source=Source.REPORT).count()
    data = JUNIT.read_bytes()
    times = []
    for attempt in range(repeats):
        payload = data + b"\n" * attempt  # a distinct upload each time, as CI would push
        started = time.perf_counter()
        measured = ingest_report(
            launch=launch,
            data=payload,
            format="junit",
            gate_key=None,
            name="junit.xml",
            actor="bench",
        )
        times.append(time.perf_counter() - started)
        assert len(measured) == count, (len(measured), count)  # noqa: S101
    best = min(times)
    return {
        "evaluations": count,
        "seconds": [round(t, 3) for t in times],
        "per_s": round(count / best, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="gate evaluation throughput")
    parser.add_argument("--gates", type=int, default=1000)
    parser.add_argument("--broker", required=True, help="the Redis database the worker uses")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from tests.gates.prometheus_server import Exporter, RealPrometheus

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-eval-"))
    launch = ensure_eval_launch(args.gates)
    with Exporter() as exporter:
        for i in range(args.gates):
            exporter.set("bench_probe", 1, probe=str(i))
        shutil.rmtree(workdir / "prometheus", ignore_errors=True)  # no series of an old exporter
        prometheus = RealPrometheus(exporter=exporter, workdir=workdir / "prometheus").start()
        try:
            _wait_scraped(prometheus.url)
            result = {
                "prometheus": prometheus_throughput(
                    launch, prometheus_url=prometheus.url, broker_url=args.broker, workdir=workdir
                )
            }
        finally:
            prometheus.stop()
    result["report"] = report_throughput(launch)
    print(json.dumps(result))
    return 0


def _wait_scraped(url: str, timeout: float = 30) -> None:
    from apps.gates.sources import SourceError
    from apps.gates.sources.prometheus import read

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            read(url=url, query='bench_probe{probe="0"}', timeout=2)
            return
        except SourceError:
            time.sleep(0.5)
    raise RuntimeError("Prometheus did not scrape the exporter in time")


if __name__ == "__main__":
    sys.exit(main())
