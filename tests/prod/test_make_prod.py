"""`make prod` (scripts/prod) as an operator runs it: DEBUG off, its own PostgreSQL database, Redis,
gunicorn with two workers, a Celery worker and beat; driven over HTTP, then stopped by SIGTERM."""

import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import redis
import requests
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from tests.celery_worker import wait_for
from tests.gates.prometheus_server import FakePrometheus
from tests.helpers import DEMO_SPEC, ROOT

JUNIT = ROOT / "tests" / "fixtures" / "reports" / "junit" / "pytest-9.2.0-generated.xml"
SLUG = "llm-research-lab"
PROMETHEUS_GATES = 23  # in specs/llm-research-lab.yaml


def free_port() -> int:
    if os.environ.get("PROD_TEST_PORT"):
        return int(os.environ["PROD_TEST_PORT"])
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the suite's server, dropped afterwards."""
    db = settings.DATABASES["default"]
    if not db["ENGINE"].endswith("postgresql"):
        pytest.skip("make prod runs on PostgreSQL: set DATABASE_URL (make test does)")
    server = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}"
    )
    name = f"{db['NAME']}_make_prod"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    yield f"{server}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Prod:
    """scripts/prod in its own session; stdout and stderr kept in files."""

    def __init__(self, env: dict, workdir: Path):
        self.env, self.port = env, int(env["PORT"])
        self.base = f"http://127.0.0.1:{self.port}"
        self.out, self.err = workdir / "prod.out", workdir / "prod.err"
        self.process = subprocess.Popen(  # noqa: S603 - our own script
            [str(ROOT / "scripts" / "prod")], cwd=ROOT, env=env, stdout=self.out.open("wb"),
            stderr=self.err.open("wb"), start_new_session=True,
        )  # fmt: skip

    def wait_until_up(self, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"scripts/prod exited {self.process.returncode}: {self.tail()}"
                )
            try:
                if requests.get(f"{self.base}/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or a worker still booting
                pass
            time.sleep(0.5)
        raise AssertionError(f"not up after {timeout}s: {self.tail()}")

    def get(self, path: str, **kwargs) -> requests.Response:
        return requests.get(f"{self.base}{path}", timeout=30, **kwargs)

    def manage(self, *args: str) -> str:
        # No SIGNING_* given: scripts/prod made a self-signed trial pair, which commands need too
        # (without one, the signing.E001 check stops them).
        trial = Path(self.env["PORTAL_VAR_DIR"]) / "signing-prod"
        env = {**self.env, "SIGNING_KEY_FILE": str(trial / "portal-key.pem"),
               "SIGNING_CERT_FILE": str(trial / "portal-cert.pem")}  # fmt: skip
        result = subprocess.run(  # noqa: S603
            [str(ROOT / ".venv" / "bin" / "python"), "manage.py", *args], cwd=ROOT, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        return result.stdout

    def log_lines(self) -> list[dict]:
        """The JSON lines of web, worker and beat (gunicorn's own lines are plain text)."""
        lines = self.err.read_text(errors="replace").splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def group(self) -> list[int]:
        found = subprocess.run(  # noqa: S603
            ["/usr/bin/pgrep", "-s", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(pid) for pid in found.stdout.split()]

    def tail(self) -> str:
        return self.err.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        if self.group():
            os.killpg(self.process.pid, signal.SIGKILL)


def metrics(prod: Prod) -> dict:
    response = prod.get("/metrics")
    assert response.status_code == 200, response.text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def total(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, lbl), v in samples.items() if n == name and wanted <= set(lbl))


@pytest.fixture
def prod(database_url, tmp_path) -> Iterator[tuple[Prod, FakePrometheus]]:
    broker = settings.CELERY_BROKER_URL
    if not broker.startswith("redis://"):
        pytest.skip("make prod runs on Redis: set CELERY_BROKER_URL (make test does)")
    redis.Redis.from_url(broker).flushdb()
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "XDG_RUNTIME_DIR"}
    with FakePrometheus() as prometheus:
        prometheus.answer_success("vector", [{"metric": {}, "value": [1_700_000_000, "99.99"]}])
        env = {k: v for k, v in os.environ.items() if k in keep}
        env.update(
            SECRET_KEY=secrets.token_urlsafe(50), DATABASE_URL=database_url,
            CELERY_BROKER_URL=broker, PORT=str(free_port()), PORTAL_VAR_DIR=str(tmp_path / "var"),
            PROMETHEUS_URL=prometheus.url, GATE_TICK_SECONDS="1", STOP_GRACE="20",
        )  # fmt: skip
        running = Prod(env, tmp_path)
        try:
            running.wait_until_up()
            yield running, prometheus
        finally:
            running.kill()


def test_make_prod_serves_observes_evaluates_and_stops_cleanly(prod):
    prod, prometheus = prod

    # Probes.
    assert prod.get("/readyz").json() == {"status": "ok"}

    # The sign-in page: DEBUG off, a nonce-based CSP, no HSTS over plain HTTP (only over HTTPS).
    login = prod.get("/accounts/login/")
    assert login.status_code == 200
    csp = login.headers["Content-Security-Policy"]
    assert re.search(r"script-src 'self' 'nonce-[\w-]+'", csp) and "unsafe-inline" not in csp
    assert "Strict-Transport-Security" not in login.headers
    assert re.fullmatch(r"[0-9a-f]{32}", login.headers["X-Request-ID"])

    # Static files: hashed names from the manifest, served by whitenoise, cached for good, gzip.
    stylesheet = re.search(r'href="(/static/css/portal\.[0-9a-f]{12}\.css)"', login.text)
    assert stylesheet, "the page links the hashed stylesheet"
    css = prod.get(stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
    assert css.status_code == 200 and "max-age=315360000" in css.headers["Cache-Control"]
    assert "immutable" in css.headers["Cache-Control"]
    assert css.headers.get("Content-Encoding") == "gzip"
    assert prod.get("/static/css/nope.css").status_code == 404

    # The launch, a token, and a report pushed by "CI".
    assert "llm-research-lab" in prod.manage("import_launch", str(DEMO_SPEC))
    token = prod.manage("create_api_token", "--launch", SLUG, "--name", "ci").strip()
    with JUNIT.open("rb") as report:
        pushed = requests.post(
            f"{prod.base}/api/v1/launches/{SLUG}/reports/", files={"file": report}, timeout=30,
            headers={"Authorization": f"Bearer {token}", "X-Request-ID": "ci-push-0001"},
        )  # fmt: skip
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["X-Request-ID"] == "ci-push-0001"

    # Beat ticks every second; the worker evaluates every Prometheus gate against the source.
    wait_for(
        lambda: total(metrics(prod), "launch_portal_gate_evaluations_total", source="prometheus")
        >= PROMETHEUS_GATES,
        timeout=120, what="the worker to evaluate every Prometheus gate",
    )  # fmt: skip
    assert prometheus.request_count >= PROMETHEUS_GATES

    # /metrics: request latency histograms, the portal's figures; whichever gunicorn worker
    # answers, the upload counted by the other is there (multiprocess mode).
    for _ in range(4):
        samples = metrics(prod)
        latency = "django_http_requests_latency_seconds_by_view_method_bucket"
        assert total(samples, latency, view="healthz", le="+Inf") >= 1
        assert total(samples, "launch_portal_report_ingest_bytes_count", outcome="accepted") == 1
        assert total(samples, "launch_portal_gate_evaluations_total", source="report") >= 1
        assert total(samples, "launch_portal_gate_evaluation_duration_seconds_count") >= 23
        assert total(samples, "launch_portal_metrics_source_up") == 2
        assert ("launch_portal_queue_depth", (("queue", "celery"),)) in samples

    # Logs: JSON lines with the request id (web) and the task id (worker); gunicorn's access log.
    lines = prod.log_lines()
    access = [line for line in lines if line.get("request_id") == "ci-push-0001"]
    assert access and access[-1]["status"] == 201 and access[-1]["method"] == "POST"
    tasks = [line for line in lines if line.get("task_name", "").startswith("gates.evaluate")]
    assert tasks and all(line["task_id"] for line in tasks)
    assert "ci-push-0001" in prod.out.read_text()

    # The signing identity: a self-signed trial pair, said loudly; packets are signed with it.
    assert "SELF-SIGNED trial certificate" in prod.err.read_text()
    fingerprint = re.search(r"SHA-256\s+((?:[0-9A-F]{2}:){31}[0-9A-F]{2})", prod.out.read_text())
    assert fingerprint, "scripts/prod prints the certificate's fingerprint"
    packet = Path(prod.env["PORTAL_VAR_DIR"]) / "packet.pdf"
    prod.manage("build_packet", SLUG, "--out", str(packet))
    report = subprocess.run(["pdfsig", str(packet)], capture_output=True, text=True).stdout
    assert "Signature is Valid." in report and "Total document signed" in report, report

    # SIGTERM: everything stops, nothing is left behind.
    assert len(prod.group()) >= 7  # script, gunicorn + 2, worker + 2, beat
    prod.process.send_signal(signal.SIGTERM)
    assert prod.process.wait(timeout=60) == 0, prod.tail()
    wait_for(lambda: not prod.group(), timeout=10, what="every process of the group to exit")
    with pytest.raises(requests.ConnectionError):
        prod.get("/healthz")
