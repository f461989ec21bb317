"""A real Celery worker process on the machine's Redis, for the end-to-end task tests."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def broker_url() -> str:
    url = settings.CELERY_BROKER_URL
    if not url.startswith("redis://"):
        raise RuntimeError(
            f"the worker tests need CELERY_BROKER_URL on Redis (got {url}); `make test` sets it"
        )
    return url


def purge(url: str) -> None:
    """Empty the test broker database so no task from another test is delivered."""
    try:
        redis.Redis.from_url(url).flushdb()
    except redis.ConnectionError as exc:
        raise RuntimeError(f"Redis is not reachable at {url}: {exc}") from None


def database_url() -> str:
    """The URL of the test database this process uses (the worker must use the same)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        raise RuntimeError("the worker tests need PostgreSQL: set DATABASE_URL (make test does)")
    user = db["USER"] or "postgres"
    return f"postgres://{user}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """`celery -A portal worker` in a subprocess, stopped (or killed) by the test."""

    def __init__(self, *, concurrency: int = 2, env: dict | None = None, log: Path):
        self.log = log
        environment = {**os.environ, "DATABASE_URL": database_url(),
                       "CELERY_BROKER_URL": broker_url(), **(env or {})}  # fmt: skip
        purge(environment["CELERY_BROKER_URL"])
        self.process = subprocess.Popen(  # noqa: S603 - our own worker
            [sys.executable, "-m", "celery", "-A", "portal", "worker", "--loglevel=INFO",
             f"--concurrency={concurrency}", "--pool=prefork", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-n", f"test-{os.getpid()}@%h"],
            cwd=ROOT, env=environment, stdout=log.open("wb"), stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the worker exited: {self.log.read_text()[-2000:]}")
            if b"ready." in self.log.read_bytes():
                return
            time.sleep(0.2)
        raise RuntimeError(
            f"the worker did not start in {timeout}s: {self.log.read_text()[-2000:]}"
        )

    def children(self) -> list[int]:
        out = subprocess.run(  # noqa: S603
            ["/usr/bin/pgrep", "-P", str(self.process.pid)], capture_output=True, text=True
        )
        return [int(pid) for pid in out.stdout.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def wait_for(predicate, *, timeout: float, what: str, interval: float = 0.2):
    """Poll until predicate() is truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
