"""A launch, the people around it, and webhook receivers listening on loopback.

ada is the launch admin, vera holds VP Engineering, pat is the program manager, nora is assigned
to nothing. A receiver is a ThreadingHTTPServer that keeps what it was sent and answers with the
statuses it is told to, in order (the last one repeats), optionally after a delay.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from apps.gates.models import Gate
from apps.gates.services import Reading, record_reading
from apps.signoffs.models import Assignment, Duty, Role, SignOff
from apps.signoffs.services import sign_off
from apps.signoffs.snapshot import take_snapshot
from apps.webhooks.signing import is_valid
from tests.helpers import import_report_only_launch
from tests.signoffs.conftest import make_user

# Our share of the machine's ports (18200-18299).
RECEIVER_PORTS = (18201, 18202, 18203)
ALLOWED_RECEIVERS = [f"127.0.0.1:{port}" for port in RECEIVER_PORTS]


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    def signed_with(self, secret: str) -> bool:
        return is_valid(
            secret=secret,
            timestamp=self.headers.get("X-Launch-Portal-Timestamp", ""),
            body=self.body,
            header=self.headers.get("X-Launch-Portal-Signature", ""),
        )


@dataclass
class Receiver:
    port: int
    statuses: list[int] = field(default_factory=lambda: [200])
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/launch?team=sre"

    def answer(self, *statuses: int, delay: float = 0.0) -> None:
        self.statuses, self.delay = list(statuses), delay

    def kinds(self) -> list[str]:
        return [r.headers["X-Launch-Portal-Event"] for r in self.received]

    def wait_for(self, count: int, timeout: float) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"receiver {self.port} got {len(self.received)} of {count} requests"
                )
            time.sleep(0.05)
        return self.received


def _handler(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            index = len(receiver.received)
            receiver.received.append(Received(self.path, dict(self.headers), body))
            if receiver.delay:
                receiver.release.wait(receiver.delay)  # a hanging endpoint, cut short at teardown
            status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    return Handler


@pytest.fixture
def receivers(settings):
    """Three receivers on loopback, each allowed by its exact ip:port."""
    settings.SOURCE_ALLOWED_HOSTS = [*settings.SOURCE_ALLOWED_HOSTS, *ALLOWED_RECEIVERS]
    started = []
    for port in RECEIVER_PORTS:
        receiver = Receiver(port)
        server = ThreadingHTTPServer(("127.0.0.1", port), _handler(receiver))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append((receiver, server))
    yield [receiver for receiver, _ in started]
    for receiver, server in started:
        receiver.release.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def launch(spec):
    return import_report_only_launch(spec)


@pytest.fixture
def people(launch):
    people = {name: make_user(name) for name in ("ada", "vera", "pat", "nora")}
    vp = Role.objects.get(launch=launch, key="vp-engineering")
    Assignment.objects.create(launch=launch, user=people["ada"], duty=Duty.ADMIN)
    Assignment.objects.create(launch=launch, user=people["vera"], duty=Duty.SIGNER, role=vp)
    Assignment.objects.create(launch=launch, user=people["pat"], duty=Duty.PROGRAM_MANAGER)
    return people


def read(key: str, value: str) -> None:
    """One reading of a gate, committed (or not) with the caller's transaction."""
    gate = Gate.objects.get(key=key)
    record_reading(gate=gate, reading=Reading(value=Decimal(value), detail={}), actor="test")


def approve(user, role_key: str = "vp-engineering") -> SignOff:
    """`user` approves the role's scope as it stands now."""
    role = Role.objects.get(key=role_key)
    digest = take_snapshot(role, timezone.now()).digest
    return sign_off(role=role, user=user, decision="approve", comment="", conditions=[],
                    digest_seen=digest, previous_id=None, ip="203.0.113.9")  # fmt: skip
