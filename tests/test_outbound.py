"""The one outbound client (portal/outbound.py): a name is looked up once and the request lands on
the address that was checked (no DNS-rebinding window), for every verb and for the Prometheus
source; the operator's own URL is trusted yet pinned; answers are bounded. No database.

Every server is on loopback. Made-up names resolve through a fake resolver whose later answers
differ from its first (a rebinding attack); a "bystander" listens where a second lookup would
lead, and must never be reached.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.gates.sources import SourceError
from apps.gates.sources.prometheus import read
from portal import outbound
from tests.gates.prometheus_server import FakePrometheus

ONE_SERIES = [{"metric": {"__name__": "up"}, "value": [1767225600.0, "0.9995"]}]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Server:
    """A loopback server answering every GET and POST with ``status`` and ``body``."""

    httpd: ThreadingHTTPServer
    status: int = 200
    body: bytes = b"hello"
    headers: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]


@contextlib.contextmanager
def running(host: str = "127.0.0.1", port: int = 0) -> Iterator[Server]:
    owner: list[Server] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            server = owner[0]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            server.seen.append(Seen(self.command, self.path, headers, body))
            self.send_response(server.status)
            for name, value in server.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(server.body)))
            self.end_headers()
            self.wfile.write(server.body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer((host, port), Handler)
    httpd.daemon_threads = True
    server = Server(httpd)
    owner.append(server)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[Server]:
    with running() as started:
        yield started


@dataclass
class RebindingDNS:
    """Names whose answer changes after the first lookup: ``answers[name]`` is consumed in order,
    the last answer repeating. Every lookup is recorded."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def lookup(self, host: str, port: int) -> list[tuple]:
        self.asked.append(host)
        queue = self.answers[host]
        ips = queue.pop(0) if len(queue) > 1 else queue[0]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for ip in ips]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> RebindingDNS:
    resolver = RebindingDNS()
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host in resolver.answers:
            return resolver.lookup(host, port)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return resolver


@pytest.fixture
def first_loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests reach loopback only: 127.0.0.1 stands in for a public server, every other loopback
    # address stays private, as the rebinding target would be.
    real = outbound.is_public_address
    monkeypatch.setattr(
        outbound, "is_public_address", lambda address: str(address) == "127.0.0.1" or real(address)
    )


@contextlib.contextmanager
def bystander(port: int) -> Iterator[socket.socket]:
    """A listener on 127.0.0.2:``port``, where the rebinding answer points."""
    listener = socket.socket()
    try:
        listener.bind(("127.0.0.2", port))
    except OSError as exc:
        listener.close()
        pytest.skip(f"cannot listen on 127.0.0.2:{port}: {exc}")
    listener.listen(8)
    try:
        yield listener
    finally:
        listener.close()


def assert_never_connected(listener: socket.socket) -> None:
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()


# --- one lookup, and the request lands on the checked address ---------------------------------


@pytest.mark.usefixtures("first_loopback_counts_as_public")
@pytest.mark.parametrize("verb", ["request", "fetch", "post"])
def test_each_verb_resolves_once_and_connects_to_the_checked_address(
    server: Server, dns: RebindingDNS, verb: str
) -> None:
    dns.answers["ci.example.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    url = f"http://ci.example.test:{server.port}/latest?x=1"
    allowed = [f"ci.example.test:{server.port}"]

    with bystander(server.port) as elsewhere:
        if verb == "request":
            outbound.request("GET", url, allowed_hosts=allowed, max_bytes=1024, timeout=5)
        elif verb == "fetch":
            outbound.fetch(url, allowed_hosts=allowed, max_bytes=1024, timeout=5)
        else:
            outbound.post(url, body=b"{}", headers={}, allowed_hosts=allowed)
        assert_never_connected(elsewhere)

    assert dns.asked == ["ci.example.test"]
    [seen] = server.seen
    assert (seen.path, seen.headers["host"]) == ("/latest?x=1", f"ci.example.test:{server.port}")


@pytest.mark.usefixtures("first_loopback_counts_as_public")
def test_each_redirect_hop_is_looked_up_once_and_vetted(server: Server, dns: RebindingDNS) -> None:
    # Each hop is vetted (one lookup per hop), and each hop connects to what its lookup gave.
    dns.answers["ci.example.test"] = [["127.0.0.1"]]
    server.status, server.headers = 302, {"Location": "/elsewhere"}
    url = f"http://ci.example.test:{server.port}/latest"

    got = outbound.request(
        "GET", url, allowed_hosts=[f"ci.example.test:{server.port}"], max_bytes=1024, timeout=5,
        redirects=1,
    )  # fmt: skip

    assert got.status == 302  # the second redirect is not followed: it is the answer
    assert [seen.path for seen in server.seen] == ["/latest", "/elsewhere"]
    assert dns.asked == ["ci.example.test", "ci.example.test"]


def test_the_operator_url_may_be_private_but_is_still_resolved_once(
    server: Server, dns: RebindingDNS
) -> None:
    dns.answers["prometheus.internal"] = [["127.0.0.1"], ["127.0.0.2"]]
    url = f"http://prometheus.internal:{server.port}/"

    with bystander(server.port) as elsewhere:
        got = outbound.request("GET", url, allowed_hosts=None, max_bytes=1024, timeout=5)
        assert_never_connected(elsewhere)

    assert (got.status, got.body, got.url) == (200, b"hello", url)
    assert dns.asked == ["prometheus.internal"]


def test_the_same_private_name_is_refused_with_an_allowlist(
    server: Server, dns: RebindingDNS
) -> None:
    dns.answers["prometheus.internal"] = [["127.0.0.1"]]
    url = f"http://prometheus.internal:{server.port}/"

    with pytest.raises(outbound.UnsafeURL, match="resolves to 127.0.0.1, which is not a public"):
        outbound.request(
            "GET", url, allowed_hosts=[f"prometheus.internal:{server.port}"], max_bytes=1,
            timeout=5,
        )  # fmt: skip

    assert server.seen == []


def test_a_refusing_address_gives_way_to_the_next_checked_one(
    server: Server, dns: RebindingDNS
) -> None:
    # Nothing listens on 127.0.0.2 at the server's port: refused, then the next address answers.
    dns.answers["prometheus.internal"] = [["127.0.0.2", "127.0.0.1"]]

    got = outbound.request(
        "GET", f"http://prometheus.internal:{server.port}/", allowed_hosts=None, max_bytes=1024,
        timeout=5,
    )  # fmt: skip

    assert got.status == 200
    assert dns.asked == ["prometheus.internal"]


def test_user_info_is_refused_even_for_the_operator_url(server: Server) -> None:
    with pytest.raises(outbound.UnsafeURL, match="user name or password"):
        outbound.request(
            "GET", f"http://u:p@127.0.0.1:{server.port}/", allowed_hosts=None, max_bytes=1,
            timeout=5,
        )  # fmt: skip


# --- the Prometheus source rides on the same client ------------------------------------------


@pytest.fixture
def fake_prometheus() -> Iterator[FakePrometheus]:
    with FakePrometheus() as fake:
        yield fake


@pytest.mark.usefixtures("first_loopback_counts_as_public")
def test_a_named_prometheus_source_is_checked_and_read_on_one_lookup(
    fake_prometheus: FakePrometheus, dns: RebindingDNS
) -> None:
    fake_prometheus.answer_success("vector", ONE_SERIES)
    dns.answers["prom.example.test"] = [["127.0.0.1"], ["127.0.0.2"]]
    port = fake_prometheus.port

    with bystander(port) as elsewhere:
        reading = read(
            url=f"http://prom.example.test:{port}",
            query="up",
            timeout=5,
            allowed_hosts=[f"prom.example.test:{port}"],
        )
        assert_never_connected(elsewhere)

    assert reading.value == Decimal("0.9995")
    assert dns.asked == ["prom.example.test"]
    assert fake_prometheus.requests[0].headers["Host"] == f"prom.example.test:{port}"


def test_a_named_prometheus_source_off_the_allowlist_is_never_contacted(
    fake_prometheus: FakePrometheus,
) -> None:
    with pytest.raises(SourceError) as caught:
        read(url=fake_prometheus.url, query="up", allowed_hosts=["prometheus.example.com"])

    assert caught.value.reason == f"host 127.0.0.1:{fake_prometheus.port} is not on the allowlist"
    assert caught.value.detail["url"] == fake_prometheus.url
    assert fake_prometheus.request_count == 0


def test_the_operator_prometheus_is_read_by_name_on_one_lookup(
    fake_prometheus: FakePrometheus, dns: RebindingDNS
) -> None:
    fake_prometheus.answer_success("vector", ONE_SERIES, infos=["PromQL info: fine"])
    dns.answers["prometheus.internal"] = [["127.0.0.1"], ["127.0.0.2"]]

    reading = read(url=f"http://prometheus.internal:{fake_prometheus.port}", query="up")

    assert (reading.value, reading.detail["infos"]) == (Decimal("0.9995"), ["PromQL info: fine"])
    assert dns.asked == ["prometheus.internal"]


def test_prometheus_warnings_make_the_reading_fail(fake_prometheus: FakePrometheus) -> None:
    fake_prometheus.answer_success("vector", ONE_SERIES, warnings=["a", "b"], infos=["c"])

    with pytest.raises(SourceError) as caught:
        read(url=fake_prometheus.url, query="up")

    assert caught.value.reason == "Prometheus warnings: a; b"
    assert (caught.value.detail["warnings"], caught.value.detail["infos"]) == (["a", "b"], ["c"])


# --- the verbs -------------------------------------------------------------------------------


def test_a_post_sends_its_body_and_does_not_follow_a_redirect(server: Server) -> None:
    server.status, server.headers = 307, {"Location": "/again"}

    got = outbound.request(
        "POST", f"http://127.0.0.1:{server.port}/hook", allowed_hosts=[f"127.0.0.1:{server.port}"],
        headers={"Content-Type": "application/json"}, body=b'{"a": 1}', max_bytes=1024,
        timeout=5, redirects=3,
    )  # fmt: skip

    assert (got.status, got.headers["Location"], got.body) == (307, "/again", b"hello")
    [seen] = server.seen
    assert (seen.method, seen.body, seen.headers["content-type"]) == (
        "POST",
        b'{"a": 1}',
        "application/json",
    )


def test_post_returns_the_status_without_reading_the_body(server: Server) -> None:
    server.status = 202

    got = outbound.post(
        f"http://127.0.0.1:{server.port}/hook", body=b"x", headers={"X-Sig": "1"},
        allowed_hosts=[f"127.0.0.1:{server.port}"],
    )  # fmt: skip

    assert (got.status, got.reason, got.body) == (202, "Accepted", b"")
    assert server.seen[0].headers["x-sig"] == "1"


def test_a_refused_connection_is_refused(server: Server) -> None:
    with socket.socket() as holder:  # bound, not listening: connecting is refused
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        with pytest.raises(outbound.Refused, match=f"connection refused by 127.0.0.1:{port}"):
            outbound.request("GET", f"http://127.0.0.1:{port}/", allowed_hosts=None, max_bytes=1,
                             timeout=5)  # fmt: skip


def test_an_http_1_0_body_dripping_past_the_deadline_is_cut_off() -> None:
    # An HTTP/1.0 answer makes http.client let go of the connection's socket; the watchdog holds
    # the socket itself, so the deadline still ends the exchange.
    stop = threading.Event()

    class Drip(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "100")
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(100):
                    self.wfile.write(b".")
                    self.wfile.flush()
                    if stop.wait(0.1):
                        return

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Drip)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    started = time.monotonic()
    try:
        with pytest.raises(outbound.TimedOut, match=r"timed out after 0\.8 seconds") as caught:
            outbound.request("GET", f"http://127.0.0.1:{httpd.server_address[1]}/",
                             allowed_hosts=None, max_bytes=1024, timeout=0.8)  # fmt: skip
    finally:
        stop.set()
        httpd.shutdown()
        httpd.server_close()

    assert caught.value.arriving
    assert time.monotonic() - started < 0.8 + 1


def test_source_error_is_the_outbound_error() -> None:
    assert SourceError is outbound.OutboundError
    assert issubclass(outbound.UnsafeURL, SourceError)
