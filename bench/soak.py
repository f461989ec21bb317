"""`make soak`: case 20 of RELIABILITY.md, a bounded soak of the portal as in production.

On loopback only: PostgreSQL database ``launch_portal_soak`` (dropped and created), a Redis
database (flushed), gunicorn with 2 workers and DEBUG off, a Celery worker and beat ticking every
few seconds, and a fake Prometheus (bench/fake_prometheus.py) answering every query after 1 s,
10% of them errors. Locust drives 50 dashboard viewers and 5 signers for ``SOAK_SECONDS`` (300).
Then beat stops, the queue must drain, and the checks run (bench/soak_report.py): no 5xx, the
database connections never exhausted, the queue empty, no gate changing status against its
``for:`` guard. Writes var/bench/soak.json and the soak section of BENCHMARKS.md; exits 1
naming each failed check. Every wait is bounded; every process started here is stopped here.

    .venv/bin/python -m bench.soak [--seconds 300] [--viewers 50] [--signers 5]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis
import yaml

from bench.fake_prometheus import Series, SoakPrometheus, Window, failing_value, passing_value
from bench.soak_processes import Sampler, Services, drain, free_port, http_status
from bench.soak_setup import soak_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "specs" / "llm-research-lab.yaml"
BIN = Path(sys.executable).parent
# Gates whose value crosses the threshold for a window of each period (seconds since start):
SCHEDULES = {
    "latency-p99": Window(120, 60, 120),  # for: 3, fails a minute: a real change, both ways
    "error-rate": Window(90, 45, 65),  # for: 3, fails 20 s: one or two readings, no change
    "kafka-brokers": Window(40, 20, 25),  # for: 2, fails 5 s: one reading at most, no change
    "postgresql-daily-backup": Window(40, 20, 25),  # no for: one failing reading changes it
}


@dataclass
class Options:
    seconds: int
    viewers: int
    signers: int
    port: int
    database_url: str
    broker_url: str
    json_path: Path
    markdown_path: Path | None
    workdir: Path
    drain_timeout: int
    interval: str
    tick: int
    concurrency: int
    prometheus_timeout: int
    error_rate: float
    command: str = field(default="")


def parse_options(argv: list[str]) -> Options:
    env = os.environ.get
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arg = parser.add_argument
    arg("--seconds", type=int, default=int(env("SOAK_SECONDS", "300")))
    arg("--viewers", type=int, default=50)
    arg("--signers", type=int, default=5)
    arg("--port", type=int, default=0, help="gunicorn's port (default: a free one)")
    arg(
        "--database-url",
        default=env("SOAK_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/launch_portal_soak"),
    )
    arg("--broker-url", default=env("SOAK_BROKER_URL", "redis://127.0.0.1:6379/8"))
    arg("--json", dest="json_path", type=Path, default=ROOT / "var" / "bench" / "soak.json")
    arg("--markdown", dest="markdown_path", type=Path, default=ROOT / "BENCHMARKS.md",
        help="the file whose soak section (between its markers) the results replace")  # fmt: skip
    arg("--workdir", type=Path, default=ROOT / "var" / "soak")
    arg("--drain-timeout", type=int, default=120)
    arg("--interval", default="15s", help="how often each Prometheus gate is polled")
    arg("--tick", type=int, default=5, help="GATE_TICK_SECONDS")
    arg("--concurrency", type=int, default=4, help="Celery worker processes")
    arg("--prometheus-timeout", type=int, default=3, help="PROMETHEUS_TIMEOUT, seconds")
    arg("--error-rate", type=float, default=0.1)
    options = Options(**vars(parser.parse_args(argv)))
    options.command = " ".join(["python -m bench.soak", *argv]).strip()
    return options


# --- the soak -----------------------------------------------------------------------------------


_T0 = time.monotonic()


def say(what: str) -> None:
    """Progress on stderr, with the seconds since the soak started."""
    print(f"soak [{time.monotonic() - _T0:6.1f} s] {what}", file=sys.stderr, flush=True)


def database_urls(url: str) -> tuple[str, str, str]:
    """(name, the soak database's URL, the maintenance database's URL)."""
    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"soak: unexpected database name {name!r}")
    return name, url, urlunsplit(parts._replace(path="/postgres"))


def recreate_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def portal_environment(options: Options) -> dict[str, str]:
    """The environment of every portal process: production settings, loopback services."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTEST")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": options.database_url,
            "CELERY_BROKER_URL": options.broker_url,
            "GATE_TICK_SECONDS": str(options.tick),
            "PROMETHEUS_TIMEOUT": str(options.prometheus_timeout),
            "PORTAL_VAR_DIR": str(options.workdir / "var"),
            "LOG_LEVEL": "INFO",
            # Packets and checkpoints are signed: a self-signed pair made in prepare().
            "SIGNING_KEY_FILE": str(options.workdir / "var" / "signing-soak" / "portal-key.pem"),
            "SIGNING_CERT_FILE": str(options.workdir / "var" / "signing-soak" / "portal-cert.pem"),
            "SIGNING_ACCEPT_SELF_SIGNED": "1",
        }
    )
    for name in ("CACHE_URL", "PROMETHEUS_URL", "CELERY_TASK_ALWAYS_EAGER"):
        env.pop(name, None)
    return env


def prometheus_series(spec: str) -> dict[str, Series]:
    """Each Prometheus gate's query, with its passing value, failing value and schedule."""
    series = {}
    for gate in yaml.safe_load(spec)["gates"]:
        if gate["source"] == "prometheus":
            threshold = Decimal(str(gate["threshold"]))
            series[gate["query"]] = Series(
                passing=passing_value(gate["comparator"], threshold, gate.get("unit", "")),
                failing=failing_value(gate["comparator"], threshold),
                window=SCHEDULES.get(gate["key"]),
            )
    return series


def prepare(options: Options, env: dict[str, str], spec: str) -> dict:
    """A fresh database and broker, migrated, with the launch and its people; the accounts."""
    name, url, admin_url = database_urls(options.database_url)
    recreate_database(admin_url, name)
    redis.Redis.from_url(options.broker_url).flushdb()
    os.environ.update(env)
    import django
    from django.core.management import call_command
    from django.db import connections

    django.setup()
    from bench.soak_setup import populate

    call_command("signing_identity", make_self_signed=True)
    say(f"migrating {name}")
    call_command("migrate", interactive=False, verbosity=0)
    collect_static()
    say("creating the launch and its people")
    password = secrets.token_urlsafe(16)
    accounts = populate(
        spec=spec, password=password, viewers=options.viewers, signers=options.signers
    ).as_dict()
    connections.close_all()  # the soak's processes get every connection
    return accounts


def collect_static() -> None:
    """The manifest whitenoise needs with DEBUG off, without its compressed copies.

    Compressing every file (brotli and gzip) takes minutes here, and the soak fetches no static
    file: the pages need only the manifest, which is the same either way.
    """
    from django.conf import settings
    from django.core.management import call_command
    from django.test.utils import override_settings

    manifest = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": {"BACKEND": manifest}}):
        call_command("collectstatic", interactive=False, verbosity=0)


def start_portal(options: Options, services: Services, port: int) -> None:
    """Worker, beat and gunicorn; returns once each is ready."""
    python, workdir = str(BIN / "python"), options.workdir
    say("starting the worker, beat and gunicorn")
    quiet = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    services.start("worker", [
        python, "-m", "celery", "-A", "portal", "worker", "--loglevel=INFO", "--pool=prefork",
        f"--concurrency={options.concurrency}", *quiet, "-n", f"soak-{os.getpid()}@%h",
    ])  # fmt: skip
    ready = lambda: b"ready." in services.log("worker").read_bytes()  # noqa: E731
    services.wait_for("worker", ready, timeout=60)
    services.start("beat", [
        python, "-m", "celery", "-A", "portal", "beat", "--loglevel=INFO",
        "-s", str(workdir / "celerybeat-schedule"), "--pidfile", str(workdir / "beat.pid"),
    ])  # fmt: skip
    services.start("gunicorn", [
        str(BIN / "gunicorn"), "portal.wsgi", "-w", "2", "-b", f"127.0.0.1:{port}",
        "--timeout", "30", "--graceful-timeout", "10",
        "--access-logfile", str(workdir / "access.log"),
    ])  # fmt: skip
    healthz = f"http://127.0.0.1:{port}/healthz"
    services.wait_for("gunicorn", lambda: http_status(healthz) == 200, timeout=60)


def run_load(options: Options, services: Services, port: int, accounts_file: Path) -> dict:
    """Locust, headless, for ``options.seconds``; what the locustfile recorded."""
    results = options.workdir / "load.json"
    services.env.update({
        "SOAK_ACCOUNTS": str(accounts_file), "SOAK_LOAD_RESULTS": str(results),
        "SOAK_VIEWERS": str(options.viewers), "SOAK_SIGNERS": str(options.signers),
    })  # fmt: skip
    users = options.viewers + options.signers
    say(f"load: {options.viewers} viewers and {options.signers} signers for {options.seconds} s")
    process = services.start("locust", [
        str(BIN / "python"), "-m", "locust", "-f", str(ROOT / "bench" / "soak_locustfile.py"),
        "--headless", "-u", str(users), "-r", "5", "-t", f"{options.seconds}s",
        "--stop-timeout", "10", "--host", f"http://127.0.0.1:{port}", "--only-summary",
        "--loglevel", "WARNING",
    ])  # fmt: skip
    try:
        process.wait(timeout=options.seconds + 120)
    except subprocess.TimeoutExpired:
        services.stop("locust")
        raise RuntimeError(f"locust ran past its time: {services.tail('locust')}") from None
    services.running.pop("locust", None)
    if not results.exists():
        raise RuntimeError(f"locust wrote no results: {services.tail('locust')}")
    return json.loads(results.read_text())


def soak(options: Options) -> dict:
    """Run the soak; the raw figures the report is made of."""
    options.workdir.mkdir(parents=True, exist_ok=True)
    for stale in (*options.workdir.glob("*.log"), *options.workdir.glob("celerybeat-schedule*")):
        stale.unlink()  # gunicorn appends to its access log: start each soak afresh
    spec = soak_spec(SPEC.read_text(), interval=options.interval)
    env = portal_environment(options)
    accounts = prepare(options, env, spec)
    accounts_file = options.workdir / "accounts.json"
    accounts_file.write_text(json.dumps(accounts))
    name, _, admin_url = database_urls(options.database_url)
    port = options.port or free_port()
    fake = SoakPrometheus(
        prometheus_series(spec), error_rate=options.error_rate, hang=options.prometheus_timeout + 2
    ).start()
    env["PROMETHEUS_URL"] = fake.url
    services = Services(options.workdir, env)
    sampler = Sampler(admin_url=admin_url, database=name, broker_url=options.broker_url)
    try:
        start_portal(options, services, port)
        sampler.start()
        load = run_load(options, services, port, accounts_file)
        say("load done; stopping beat, draining the queue")
        services.stop("beat")
        drained = drain(options.broker_url, timeout=options.drain_timeout)
        say("stopping the worker and gunicorn")
        services.stop("worker")
        services.stop("gunicorn")
    finally:
        services.stop_all()
        sampler.stop()
        fake.stop()
    with psycopg.connect(admin_url) as connection:
        max_connections = int(connection.execute("SHOW max_connections").fetchone()[0])
    return {
        "accounts": accounts,
        "load": load,
        "drain": drained,
        "samples": sampler.samples,
        "sampler_errors": sampler.errors,
        "max_connections": max_connections,
        "prometheus": fake.counts(),
        "schedules": list(SCHEDULES),
        "workdir": options.workdir,
    }


SOAK_START, SOAK_END = "<!-- soak:start -->", "<!-- soak:end -->"


def main(argv: list[str] | None = None) -> int:
    from bench.report import replace_section
    from bench.soak_report import judge, render_markdown

    options = parse_options(sys.argv[1:] if argv is None else argv)
    started = time.monotonic()
    raw = soak(options)
    say("judging")
    report = judge(raw, options=options, elapsed=time.monotonic() - started)
    options.json_path.parent.mkdir(parents=True, exist_ok=True)
    options.json_path.write_text(json.dumps(report, indent=2, default=str) + "\n")
    if options.markdown_path:
        replace_section(options.markdown_path, SOAK_START, SOAK_END, render_markdown(report))
    failed = [check["name"] for check in report["checks"] if not check["ok"]]
    for check in report["checks"]:
        print(f"{'ok  ' if check['ok'] else 'FAIL'} {check['name']}: {check['detail']}")
    print(
        f"soak: {options.json_path}"
        + (f", {options.markdown_path}" if options.markdown_path else "")
    )
    if failed:
        print(f"soak FAILED: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
