"""Servers the Prometheus source is tested against, all on loopback.

- ``FakePrometheus``: a tiny HTTP server whose answer the test sets (status, body, headers, a delay,
  a slow body, a redirect); it records every request it gets.
- ``Exporter``: a tiny exporter serving ``/metrics`` in Prometheus text format, gauges set by the
  test.
- ``RealPrometheus``: Debian's ``/usr/bin/prometheus`` on a free port, scraping an ``Exporter``
  every second.
- ``counting_connects``: counts connection attempts to an address, even refused ones.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

PROMETHEUS = Path("/usr/bin/prometheus")
NOT_INSTALLED = "prometheus is not installed: `make test` installs the Debian package prometheus"


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that gave up (a timeout under test) leaves a broken pipe: expected, not news.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class LoopbackServer:
    """An HTTP server on 127.0.0.1 and a free port, answering GETs from a thread."""

    def __init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.handle(self)

            def log_message(self, *args: object) -> None:
                pass

        self.stopping = threading.Event()
        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        raise NotImplementedError

    def _serve(self) -> None:
        self._server.serve_forever(poll_interval=0.05)  # so that stopping is quick

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; a handler still sleeping wakes up and gives up."""
        self.stopping.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@dataclass(frozen=True)
class Answer:
    """What the fake answers: a status, a body, headers; optionally late, slow or redirecting."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    trickle: float = 0.0  # seconds between body bytes, when set
    location: str = ""  # a Location header, for redirects


@dataclass(frozen=True)
class SeenRequest:
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]


class FakePrometheus(LoopbackServer):
    """A stand-in for Prometheus's HTTP API: the test sets the answer, the fake records requests."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[SeenRequest] = []
        self._answer = Answer(status=500, body=b"no answer set")
        self._lock = threading.Lock()

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    def answer(
        self,
        body: bytes | str | dict | list = b"",
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        trickle: float = 0.0,
        location: str = "",
    ) -> None:
        """Set the answer to every request from now on; a dict or list body is sent as JSON."""
        headers = dict(headers or {})
        if isinstance(body, dict | list):
            body = json.dumps(body)
            headers.setdefault("Content-Type", "application/json")
        data = body.encode() if isinstance(body, str) else body
        self._answer = Answer(status, data, headers, delay, trickle, location)

    def answer_success(self, result_type: str, result: object, **extra: object) -> None:
        """Answer as Prometheus does with a result (``extra``: e.g. ``warnings``)."""
        data = {"resultType": result_type, "result": result}
        self.answer({"status": "success", "data": data, **extra})

    def answer_error(self, error_type: str, error: str, *, status: int) -> None:
        """Answer as Prometheus does with an error."""
        self.answer({"status": "error", "errorType": error_type, "error": error}, status=status)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        answer = self._answer
        self._record(request)
        if self.stopping.wait(answer.delay):
            return
        request.send_response(answer.status)
        if answer.location:
            request.send_header("Location", answer.location)
        for name, value in answer.headers.items():
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(answer.body)))
        request.end_headers()
        self._send_body(request, answer)

    def _send_body(self, request: BaseHTTPRequestHandler, answer: Answer) -> None:
        if not answer.trickle:
            request.wfile.write(answer.body)
            return
        for index in range(len(answer.body)):
            request.wfile.write(answer.body[index : index + 1])
            request.wfile.flush()
            if self.stopping.wait(answer.trickle):
                return

    def _record(self, request: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(request.path)
        seen = SeenRequest(parts.path, parse_qs(parts.query), dict(request.headers.items()))
        with self._lock:
            self.requests.append(seen)


class Exporter(LoopbackServer):
    """A tiny exporter: ``/metrics`` in Prometheus text format, with gauges the test sets."""

    def __init__(self) -> None:
        super().__init__()
        self._gauges: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    @property
    def target(self) -> str:
        """The scrape target, as Prometheus's config names it."""
        return f"127.0.0.1:{self.port}"

    def set(self, name: str, value: object, **labels: str) -> None:
        """Set a gauge (one series per distinct set of labels)."""
        selector = ",".join(f'{key}="{labels[key]}"' for key in sorted(labels))
        with self._lock:
            self._gauges[(name, selector)] = str(value)

    def remove(self, name: str) -> None:
        """Stop exporting every series of a gauge."""
        with self._lock:
            self._gauges = {key: value for key, value in self._gauges.items() if key[0] != name}

    def text(self) -> str:
        """The exposition, in Prometheus text format 0.0.4."""
        with self._lock:
            gauges = sorted(self._gauges.items())
        lines: list[str] = []
        for (name, selector), value in gauges:
            if f"# TYPE {name} gauge" not in lines:
                lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name}{{{selector}}} {value}" if selector else f"{name} {value}")
        return "".join(f"{line}\n" for line in lines)

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        found = urlsplit(request.path).path == "/metrics"
        body = self.text().encode() if found else b"not found\n"
        request.send_response(200 if found else 404)
        request.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)


class RealPrometheus:
    """Debian's Prometheus on a free loopback port, scraping one ``Exporter`` every second."""

    def __init__(self, *, exporter: Exporter, workdir: Path) -> None:
        self.exporter = exporter
        self.workdir = workdir
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.workdir / "prometheus.log"

    def start(self) -> Self:
        """Start Prometheus and wait until it is ready; fail the test if it is not installed."""
        if not PROMETHEUS.exists():
            pytest.fail(NOT_INSTALLED, pytrace=False)
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config()))
        for _attempt in range(3):  # the free port can be taken before Prometheus binds it
            self.port = free_port()
            self._process = self._spawn(config)
            if self._ready(timeout=30):
                return self
            self.stop()
        raise RuntimeError(f"prometheus did not start; its log:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        """Stop Prometheus (its port then refuses connections); idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def _config(self) -> dict:
        return {
            "global": {
                "scrape_interval": "1s",
                "scrape_timeout": "1s",
                "evaluation_interval": "1s",
            },
            "scrape_configs": [
                {"job_name": "exporter", "static_configs": [{"targets": [self.exporter.target]}]}
            ],
        }

    def _spawn(self, config: Path) -> subprocess.Popen[bytes]:
        command = [
            str(PROMETHEUS),
            f"--config.file={config}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        with self.log.open("ab") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def _ready(self, *, timeout: float) -> bool:
        """Wait for ``/-/ready``; False when the process ended or the wait ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                return False
            if http_status(self.port, "/-/ready") == 200:
                return True
            time.sleep(0.05)
        return False


def http_status(port: int, path: str) -> int | None:
    """The status of a GET on loopback, or None when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def free_port() -> int:
    """A loopback port free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port bound but not listening: connecting to it is refused, and no one takes it."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        yield holder.getsockname()[1]


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Poll ``predicate`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.1)


# Connection attempts are seen through the interpreter's audit events (PEP 578): no patching, and
# a refused attempt counts too. The hook cannot be removed, so it is added once and then filtered.
_connect_counts: list[tuple[tuple[str, int], list[int]]] = []
_audit_hook_added = False


def _on_audit_event(event: str, args: tuple) -> None:
    if event == "socket.connect":
        for address, count in list(_connect_counts):
            if args[1] == address:
                count[0] += 1


@contextlib.contextmanager
def counting_connects(port: int) -> Iterator[list[int]]:
    """Count the attempts to connect to 127.0.0.1:``port`` in the block: ``count[0]``."""
    global _audit_hook_added
    if not _audit_hook_added:
        sys.addaudithook(_on_audit_event)
        _audit_hook_added = True
    entry = (("127.0.0.1", port), [0])
    _connect_counts.append(entry)
    try:
        yield entry[1]
    finally:
        _connect_counts.remove(entry)
