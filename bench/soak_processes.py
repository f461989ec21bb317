"""The soak's processes and watchers: start and stop what it runs, sample, wait for the queue.

Each process runs in its own process group and is stopped by its id: SIGTERM, then SIGKILL after
a bound. Every wait here has a deadline.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent


class Services:
    """The processes of one soak, each in its own process group, all stopped on exit."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir, self.env = workdir, env
        self.running: dict[str, subprocess.Popen] = {}

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self, name: str, command: list[str]) -> subprocess.Popen:
        with self.log(name).open("wb") as log:
            process = subprocess.Popen(  # noqa: S603 - our own programs
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running[name] = process
        return process

    def stop(self, name: str, *, timeout: float = 30) -> None:
        """SIGTERM the process group, SIGKILL it after ``timeout`` seconds."""
        process = self.running.pop(name, None)
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def wait_for(self, name: str, ready, *, timeout: float) -> None:
        """Poll ``ready()`` until true; raise naming the process if it ends or time runs out."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.running[name].poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log(name).read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready in {timeout} s: {self.tail(name)}")
            time.sleep(0.25)

    def tail(self, name: str) -> str:
        return self.log(name).read_text(errors="replace")[-2000:]


def http_status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310 - loopback
            return answer.status
    except OSError as exc:
        return getattr(exc, "code", None)


class Sampler(threading.Thread):
    """Every ``every`` seconds: the soak database's connections, the server's, the queue."""

    def __init__(
        self,
        *,
        admin_url: str,
        database: str,
        broker_url: str,
        every: float = 1.0,
        limit: int = 5000,
    ) -> None:
        super().__init__(daemon=True)
        self.admin_url, self.database, self.every, self.limit = admin_url, database, every, limit
        self.redis = redis.Redis.from_url(broker_url)
        self.samples: list[dict] = []
        self.errors: list[str] = []
        self.halt = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            while len(self.samples) < self.limit and not self.halt.wait(self.every):
                try:
                    self.samples.append(self._sample(connection, time.monotonic() - started))
                except (psycopg.Error, redis.RedisError) as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}")

    def _sample(self, connection, elapsed: float) -> dict:
        soak, total = connection.execute(
            "SELECT count(*) FILTER (WHERE datname = %s),"
            " count(*) FILTER (WHERE backend_type = 'client backend') FROM pg_stat_activity",
            (self.database,),
        ).fetchone()
        return {
            "t": round(elapsed, 1),
            "soak_connections": soak,
            "server_connections": total,
            "queue": self.redis.llen("celery"),
            "load": os.getloadavg()[0],
        }

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=10)


def drain(broker_url: str, *, timeout: float) -> dict:
    """Wait for the queue (and the tasks taken but not yet acknowledged) to reach zero."""
    client = redis.Redis.from_url(broker_url)
    started = time.monotonic()
    left = {"queued": client.llen("celery"), "unacked": client.hlen("unacked")}
    while sum(left.values()) and time.monotonic() - started < timeout:
        time.sleep(0.5)
        left = {"queued": client.llen("celery"), "unacked": client.hlen("unacked")}
    return {"seconds": round(time.monotonic() - started, 1), "bound_seconds": timeout, **left}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
