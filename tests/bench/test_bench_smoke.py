"""`make bench` still runs: the generator and every measurement, at a tiny scale, in a minute."""

import json
import os
import socket
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from tests.helpers import ROOT

PAGE_KEYS = {
    "service_p50_ms",
    "service_p99_ms",
    "service_floor_ratio",
    "load_p50_ms",
    "load_p95_ms",
    "load_p99_ms",
    "capacity_rps",
    "queries",
}
TOP_KEYS = {
    "pages",
    "floor",
    "load_errors",
    "gate_evaluations_per_s",
    "gate_evaluations_first_round_per_s",
    "report_evaluations_per_s",
    "packet_seconds",
    "packet_unsigned_seconds",
    "packet_signing_seconds",
    "packet_floor_seconds",
    "export_peak_rss_mb",
    "export_mb_per_s",
    "audit_writes",
    "schedule_ms",
    "sized",
    "machine",
}


def _smoke_database_url() -> str:
    """A database of its own beside the suite's (the bench recreates it when it must)."""
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        raise RuntimeError("the bench smoke test needs PostgreSQL: set DATABASE_URL")
    url = f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/"
    return urlunsplit(urlsplit(url)._replace(path=f"/{db['NAME']}_bench_smoke"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_bench_runs_end_to_end_at_a_tiny_scale():
    out = ROOT / "var" / "bench-smoke"  # kept: the collected static files are reused
    command = [
        sys.executable,
        "-m",
        "bench.run",
        "--small",
        "--db-url",
        _smoke_database_url(),
        "--broker",
        settings.CELERY_BROKER_URL,
        "--port",
        str(_free_port()),
        "--out",
        str(out),
    ]
    environment = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    done = subprocess.run(
        # The whole pipeline at a tiny scale (about a minute: signing identity, data set, pages,
        # a worker, a signed packet, a signed export, audit writes); a hang still fails it.
        command,
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    results = json.loads((out / "results.json").read_text())
    assert set(results) == TOP_KEYS
    assert set(results["floor"]) == {"service_p50_ms", "capacity_rps"}
    for name, page in results["pages"].items():
        if page is None and name == "api_gates":  # null while the read API is not served
            continue
        assert set(page) == PAGE_KEYS, name
        assert page["service_p50_ms"] > 0, name
        assert isinstance(page["queries"], int), name
    assert results["load_errors"] == 0
    assert results["pages"]["overview"]["capacity_rps"] > 0
    assert results["gate_evaluations_per_s"] > 0
    assert results["gate_evaluations_first_round_per_s"] > 0
    assert results["report_evaluations_per_s"] > 0
    assert results["packet_seconds"] > results["packet_floor_seconds"] > 0
    assert 0 < results["export_peak_rss_mb"] < 1000
    assert results["audit_writes"]["one_launch_per_s"] > 0
    assert 0 < results["schedule_ms"] < 20
    sized = results["sized"]  # issue 21: the gates page at 25, 100 and 400 gates, and its ratios
    assert all(p50 > 0 for p50 in sized["gates_p50_ms"].values()), sized
    assert sized["gates_100_floor_ratio"] > 0 and sized["gates_400_100_ratio"] > 0
    for size in ("25", "100", "400"):
        assert {"gates", "overview", "sign"} <= set(sized["inproc"][size]), sized["inproc"]
    details = json.loads((out / "details.json").read_text())
    assert details["export"]["evidence_bytes"] > 0
