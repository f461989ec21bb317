"""fetch() of the outbound client: SSRF refusals (RELIABILITY case 10), size and time limits.

Every server here is a small HTTP server on a loopback port started by the test; made-up host
names resolve through a fake resolver, and anything that resolves to a non-loopback address is
refused before a connection is attempted, so no traffic leaves 127.0.0.1. No database.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import ssl
import subprocess
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from apps.gates.sources import SourceError
from portal import outbound
from portal.outbound import Fetched, UnsafeURL, check_url, fetch

Handler = Callable[[BaseHTTPRequestHandler], None]
MB = 1024 * 1024


# --- fake servers ----------------------------------------------------------------------------


@dataclass
class Seen:
    """One request as the fake server received it (header names lower-cased)."""

    path: str
    headers: dict[str, str]


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client hanging up mid-body is what several tests do on purpose


@dataclass
class FakeCI:
    """A CI server on a loopback port: ``routes`` maps a path to a handler."""

    server: ThreadingHTTPServer
    scheme: str = "http"
    routes: dict[str, Handler] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    @property
    def allow(self) -> str:
        return f"127.0.0.1:{self.port}"

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"


def _handler_class(ci_ref: list[FakeCI]) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            ci = ci_ref[0]
            headers = {name.lower(): value for name, value in self.headers.items()}
            ci.seen.append(Seen(self.path, headers))
            route = ci.routes.get(self.path)
            if route is None:
                self.send_error(404)
            else:
                route(self)

        def log_message(self, format, *args) -> None:
            pass

    return _Handler


@contextlib.contextmanager
def running_server(tls: ssl.SSLContext | None = None) -> Iterator[FakeCI]:
    ci_ref: list[FakeCI] = []
    server = _QuietServer(("127.0.0.1", 0), _handler_class(ci_ref))
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    ci = FakeCI(server, scheme="https" if tls else "http")
    ci_ref.append(ci)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield ci
    finally:
        ci.release.set()  # frees handlers that wait on purpose
        server.shutdown()
        server.server_close()


@pytest.fixture
def ci() -> Iterator[FakeCI]:
    with running_server() as server:
        yield server


@pytest.fixture
def bystander() -> Iterator[socket.socket]:
    """A loopback listener nobody may reach: after the test, its backlog must be empty."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield listener
    listener.close()


def assert_never_connected(listener: socket.socket) -> None:
    # A connection attempt would be complete (in the backlog) by the time fetch() returned.
    listener.setblocking(False)
    with pytest.raises(BlockingIOError):
        listener.accept()


def respond(body: bytes = b"", *, status: int = 200, headers: dict[str, str] | None = None):
    def handler(h: BaseHTTPRequestHandler) -> None:
        h.send_response(status)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        if status != 304:
            h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return handler


def redirect(location: str, status: int = 302) -> Handler:
    return respond(status=status, headers={"Location": location})


@dataclass
class Resolver:
    """Made-up names and their addresses; every other name resolves for real."""

    table: dict[str, list[str]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    resolver = Resolver()
    real = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host not in resolver.table:
            return real(host, port, *args, **kwargs)
        resolver.asked.append(host)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
            if ":" in ip
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
            for ip in resolver.table[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", fake_getaddrinfo)
    return resolver


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reason_of(excinfo: pytest.ExceptionInfo[SourceError]) -> str:
    return excinfo.value.reason


# --- fetching from an allowed server -------------------------------------------------------


def test_allowlisted_loopback_server_returns_the_body(ci: FakeCI) -> None:
    ci.routes["/artifact/junit.xml?branch=main"] = respond(b"<testsuites/>")

    got = fetch(ci.url("/artifact/junit.xml?branch=main"), allowed_hosts=[ci.allow], max_bytes=1024)

    assert got == Fetched(
        status="ok",
        body=b"<testsuites/>",
        etag="",
        last_modified="",
        url=ci.url("/artifact/junit.xml?branch=main"),
    )
    assert ci.seen[0].headers["host"] == ci.allow


def test_etag_gives_not_modified_and_is_sent_as_if_none_match(ci: FakeCI) -> None:
    def artifact(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            respond(status=304, headers={"ETag": '"v1"'})(h)
        else:
            respond(b"report", headers={"ETag": '"v1"'})(h)

    ci.routes["/latest"] = artifact
    first = fetch(ci.url("/latest"), allowed_hosts=[ci.allow], max_bytes=1024)
    again = fetch(ci.url("/latest"), allowed_hosts=[ci.allow], max_bytes=1024, etag=first.etag)

    assert (first.status, first.body, first.etag) == ("ok", b"report", '"v1"')
    assert (again.status, again.body, again.etag) == ("not_modified", b"", '"v1"')
    assert "if-none-match" not in ci.seen[0].headers
    assert ci.seen[1].headers["if-none-match"] == '"v1"'


def test_last_modified_gives_not_modified_and_is_sent_as_if_modified_since(ci: FakeCI) -> None:
    stamp = "Tue, 03 Jun 2025 10:00:00 GMT"

    def artifact(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("If-Modified-Since") == stamp:
            respond(status=304)(h)
        else:
            respond(b"report", headers={"Last-Modified": stamp})(h)

    ci.routes["/latest"] = artifact
    first = fetch(ci.url("/latest"), allowed_hosts=[ci.allow], max_bytes=1024)
    again = fetch(
        ci.url("/latest"),
        allowed_hosts=[ci.allow],
        max_bytes=1024,
        last_modified=first.last_modified,
    )

    assert (first.status, first.last_modified) == ("ok", stamp)
    assert (again.status, again.body, again.last_modified) == ("not_modified", b"", stamp)
    assert ci.seen[1].headers["if-modified-since"] == stamp


def test_a_validator_that_could_split_headers_is_not_sent(ci: FakeCI) -> None:
    ci.routes["/latest"] = respond(b"report")

    got = fetch(
        ci.url("/latest"), allowed_hosts=[ci.allow], max_bytes=1024, etag='"x"\r\nX-Evil: 1'
    )

    assert got.status == "ok"
    assert "if-none-match" not in ci.seen[0].headers
    assert "x-evil" not in ci.seen[0].headers


# --- SSRF: refused when saved and when fetched -----------------------------------------------


def refused_urls(ci: FakeCI) -> dict[str, str]:
    """URL -> words the refusal must contain. The allowlist holds only the test server."""
    return {
        "http://169.254.169.254/latest/meta-data/": "not on the allowlist",
        "http://127.0.0.1:5432/": "host 127.0.0.1:5432 is not on the allowlist",
        "file:///etc/passwd": "scheme 'file' is not allowed",
        "gopher://127.0.0.1:6379/_INFO": "scheme 'gopher' is not allowed",
        "ftp://127.0.0.1/": "scheme 'ftp' is not allowed",
        f"http://[::ffff:127.0.0.1]:{ci.port}/": "not on the allowlist",
        f"http://[::1]:{ci.port}/": "not on the allowlist",
        f"http://user:secret@127.0.0.1:{ci.port}/": "user name or password",
        f"http://127.0.0.1:{ci.port}@evil.example.test/": "user name or password",
        "http://evil.example.test/": "host evil.example.test:80 is not on the allowlist",
        f"http://127.0.0.1:{ci.port}\\@evil.example.test/": "backslash",
        "http:///nohost": "no host",
        "//127.0.0.1/": "scheme '(none)'",
    }


def test_refused_urls_are_refused_when_saved(ci: FakeCI) -> None:
    for url, words in refused_urls(ci).items():
        with pytest.raises(UnsafeURL) as excinfo:
            check_url(url, allowed_hosts=[ci.allow])
        assert words in reason_of(excinfo), url


def test_refused_urls_are_refused_when_fetched(ci: FakeCI) -> None:
    for url, words in refused_urls(ci).items():
        with pytest.raises(UnsafeURL) as excinfo:
            fetch(url, allowed_hosts=[ci.allow], max_bytes=1024, timeout=2)
        assert words in reason_of(excinfo), url
    assert ci.seen == []


def test_allowlisting_the_metadata_host_by_name_still_refuses_it() -> None:
    # A bare literal-IP entry (no port) is not the "exactly this IP and port" escape hatch.
    for url in ("http://169.254.169.254/latest/meta-data/", "http://[::ffff:169.254.169.254]/"):
        with pytest.raises(UnsafeURL, match="not a public address"):
            fetch(url, allowed_hosts=["169.254.169.254", "[::ffff:169.254.169.254]"], max_bytes=1)


def test_a_name_resolving_to_a_private_address_is_refused(dns: Resolver) -> None:
    dns.table["ci.example.test"] = ["10.0.0.5"]
    url = "http://ci.example.test/artifact"

    with pytest.raises(UnsafeURL, match="resolves to 10.0.0.5, which is not a public"):
        check_url(url, allowed_hosts=["ci.example.test"])
    with pytest.raises(UnsafeURL, match="resolves to 10.0.0.5"):
        fetch(url, allowed_hosts=["ci.example.test"], max_bytes=1024)


def test_a_name_is_refused_when_any_of_its_addresses_is_not_public(dns: Resolver) -> None:
    dns.table["ci.example.test"] = ["8.8.8.8", "fe80::1"]

    with pytest.raises(UnsafeURL, match="resolves to fe80::1"):
        check_url("https://ci.example.test/", allowed_hosts=["ci.example.test"])


def test_a_loopback_name_is_refused_even_with_its_port_allowlisted(ci: FakeCI) -> None:
    # Only a literal IP with a port may be private; a name must resolve to public addresses.
    with pytest.raises(UnsafeURL, match="localhost resolves to"):
        fetch(ci.url("/", host="localhost"), allowed_hosts=[f"localhost:{ci.port}"], max_bytes=1)
    assert ci.seen == []


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "2002:a00:5::1",  # 6to4 of 10.0.0.5
    ],
)
def test_non_public_addresses_are_refused(dns: Resolver, address: str) -> None:
    dns.table["ci.example.test"] = [address]

    with pytest.raises(UnsafeURL, match="not a public address"):
        check_url("https://ci.example.test/", allowed_hosts=["ci.example.test"])


def test_a_public_address_passes(dns: Resolver) -> None:
    dns.table["ci.example.test"] = ["8.8.8.8", "2001:4860:4860::8888"]

    check_url("https://ci.example.test/x", allowed_hosts=["ci.example.test"])


# --- the allowlist ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "url", "allowed"),
    [
        ("CI.Example.com", "https://ci.example.COM/x", True),
        ("ci.example.com", "http://ci.example.com:80/", True),
        ("ci.example.com", "http://ci.example.com:443/", True),
        ("ci.example.com", "https://ci.example.com:8443/", False),
        ("ci.example.com", "https://sub.ci.example.com/", False),
        ("ci.example.com:8443", "https://ci.example.com:8443/", True),
        ("ci.example.com:8443", "https://ci.example.com/", False),
        ("*.example.com", "https://a.b.example.com/", True),
        ("*.example.com", "https://example.com/", False),
        ("*.example.com", "https://badexample.com/", False),
        ("*.example.com:8080", "http://ci.example.com:8080/", True),
        ("*.example.com:8080", "http://ci.example.com/", False),
    ],
)
def test_allowlist_entries(dns: Resolver, entry: str, url: str, allowed: bool) -> None:
    for name in ("ci.example.com", "sub.ci.example.com", "a.b.example.com", "example.com"):
        dns.table[name] = ["8.8.8.8"]
    dns.table["badexample.com"] = ["8.8.8.8"]

    if allowed:
        check_url(url, allowed_hosts=[entry])
    else:
        with pytest.raises(UnsafeURL, match="is not on the allowlist"):
            check_url(url, allowed_hosts=[entry])


def test_a_single_string_allowlist_is_one_entry(dns: Resolver) -> None:
    dns.table["ci.example.com"] = ["8.8.8.8"]

    check_url("https://ci.example.com/", allowed_hosts="ci.example.com")
    with pytest.raises(UnsafeURL, match="not on the allowlist"):
        check_url("https://c/", allowed_hosts="ci.example.com")


def test_a_malformed_allowlist_entry_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="invalid allowlist entry"):
        check_url("https://ci.example.test/", allowed_hosts=["ci.example.test:notaport"])


# --- redirects -------------------------------------------------------------------------------


def test_a_redirect_to_an_unlisted_loopback_port_is_refused_and_never_connected(
    ci: FakeCI, bystander: socket.socket
) -> None:
    target = f"http://127.0.0.1:{bystander.getsockname()[1]}/"
    ci.routes["/latest"] = redirect(target)

    with pytest.raises(UnsafeURL) as excinfo:
        fetch(ci.url("/latest"), allowed_hosts=[ci.allow], max_bytes=1024, timeout=2)

    assert reason_of(excinfo).startswith(f"redirect to {target} refused: ")
    assert "is not on the allowlist" in reason_of(excinfo)
    assert_never_connected(bystander)


@pytest.mark.parametrize(
    ("location", "words"),
    [
        ("http://127.0.0.1:5432/", "host 127.0.0.1:5432 is not on the allowlist"),
        ("http://169.254.169.254/latest/meta-data/", "not on the allowlist"),
        ("file:///etc/passwd", "scheme 'file' is not allowed"),
        ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher'"),
        ("http://localhost:{port}/", "not on the allowlist"),
        ("http://[::ffff:127.0.0.1]:{port}/", "not on the allowlist"),
    ],
)
def test_a_redirect_off_the_policy_is_refused(ci: FakeCI, location: str, words: str) -> None:
    location = location.format(port=ci.port)
    ci.routes["/latest"] = redirect(location, status=307)

    with pytest.raises(UnsafeURL) as excinfo:
        fetch(ci.url("/latest"), allowed_hosts=[ci.allow], max_bytes=1024, timeout=2)

    assert reason_of(excinfo).startswith(f"redirect to {location} refused: ")
    assert words in reason_of(excinfo)
    assert [seen.path for seen in ci.seen] == ["/latest"]


def test_a_redirect_to_an_allowed_path_is_followed(ci: FakeCI) -> None:
    ci.routes["/latest"] = redirect("/builds/42/junit.xml", status=302)
    ci.routes["/builds/42/junit.xml"] = respond(b"<testsuites/>", headers={"ETag": '"42"'})

    got = fetch(ci.url("/latest"), allowed_hosts=[ci.allow], max_bytes=1024)

    assert (got.status, got.body, got.etag) == ("ok", b"<testsuites/>", '"42"')
    assert got.url == ci.url("/builds/42/junit.xml")


def test_at_most_three_redirects_are_followed(ci: FakeCI) -> None:
    for hop in range(5):
        ci.routes[f"/hop{hop}"] = redirect(f"/hop{hop + 1}", status=301)

    with pytest.raises(SourceError, match="too many redirects"):
        fetch(ci.url("/hop0"), allowed_hosts=[ci.allow], max_bytes=1024)

    assert [seen.path for seen in ci.seen] == ["/hop0", "/hop1", "/hop2", "/hop3"]


# --- size limits -----------------------------------------------------------------------------


def test_an_honest_content_length_over_the_limit_is_refused_before_reading(ci: FakeCI) -> None:
    def huge(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(200 * MB))
        h.end_headers()
        h.wfile.write(b"x" * 1024)
        ci.release.wait(10)  # never sends the rest: reading it would time out, not refuse

    ci.routes["/big"] = huge
    started = time.monotonic()

    with pytest.raises(SourceError) as excinfo:
        fetch(ci.url("/big"), allowed_hosts=[ci.allow], max_bytes=MB, timeout=5)

    assert reason_of(excinfo) == f"body is {200 * MB} bytes, over the limit of {MB} bytes"
    assert time.monotonic() - started < 2


def test_an_endless_chunked_body_is_cut_off_at_the_limit(ci: FakeCI) -> None:
    sent = []

    def endless(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"x" * 65536
        with contextlib.suppress(OSError):
            for _ in range(100_000):  # about 6 GB: only the client hanging up ends it
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent.append(len(chunk))

    ci.routes["/stream"] = endless
    started = time.monotonic()

    with pytest.raises(SourceError, match=f"body is over the limit of {MB} bytes"):
        fetch(ci.url("/stream"), allowed_hosts=[ci.allow], max_bytes=MB, timeout=10)

    assert time.monotonic() - started < 5
    assert sum(sent) < 100 * MB  # what socket buffers hold, far from the whole stream


def test_a_content_length_shorter_than_the_body_reads_only_what_was_declared(ci: FakeCI) -> None:
    def liar(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "10")
        h.end_headers()
        h.wfile.write(b"y" * (2 * MB))

    ci.routes["/liar"] = liar

    got = fetch(ci.url("/liar"), allowed_hosts=[ci.allow], max_bytes=MB)

    assert got.body == b"yyyyyyyyyy"  # exactly what was declared, the rest ignored


def test_a_body_ended_by_closing_the_connection_is_cut_off_at_the_limit(ci: FakeCI) -> None:
    def close_delimited(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Connection", "close")  # no Content-Length, not chunked
        h.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(1000):
                h.wfile.write(b"z" * 65536)

    ci.routes["/raw"] = close_delimited

    with pytest.raises(SourceError, match=f"body is over the limit of {MB} bytes"):
        fetch(ci.url("/raw"), allowed_hosts=[ci.allow], max_bytes=MB, timeout=10)


def test_a_gzip_bomb_is_refused_without_inflating_past_the_limit(
    ci: FakeCI, monkeypatch: pytest.MonkeyPatch
) -> None:
    bomb = gzip.compress(b"\0" * (10 * MB))
    assert len(bomb) < 64 * 1024
    ci.routes["/bomb"] = respond(bomb, headers={"Content-Encoding": "gzip"})
    produced = []
    real_decompressobj = zlib.decompressobj

    class CountingInflater:
        def __init__(self, *args) -> None:
            self._inflater = real_decompressobj(*args)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self._inflater.decompress(data, max_length)
            produced.append(len(out))
            return out

        def __getattr__(self, name: str):
            return getattr(self._inflater, name)

    monkeypatch.setattr(outbound.zlib, "decompressobj", CountingInflater)

    with pytest.raises(SourceError, match=f"decompressed body is over the limit of {MB} bytes"):
        fetch(ci.url("/bomb"), allowed_hosts=[ci.allow], max_bytes=MB)

    assert sum(produced) <= MB + 1


def test_a_small_gzip_body_is_decompressed(ci: FakeCI) -> None:
    ci.routes["/report"] = respond(
        gzip.compress(b"<testsuites/>"), headers={"Content-Encoding": "gzip"}
    )

    got = fetch(ci.url("/report"), allowed_hosts=[ci.allow], max_bytes=1024)

    assert got.body == b"<testsuites/>"
    assert "gzip" in ci.seen[0].headers["accept-encoding"]


def test_a_truncated_or_unknown_encoding_is_refused(ci: FakeCI) -> None:
    ci.routes["/cut"] = respond(
        gzip.compress(b"z" * 5000)[:-20], headers={"Content-Encoding": "gzip"}
    )
    ci.routes["/br"] = respond(b"\x0b\x02\x80", headers={"Content-Encoding": "br"})

    with pytest.raises(SourceError, match="compressed body is truncated"):
        fetch(ci.url("/cut"), allowed_hosts=[ci.allow], max_bytes=MB)
    with pytest.raises(SourceError, match="unsupported Content-Encoding 'br'"):
        fetch(ci.url("/br"), allowed_hosts=[ci.allow], max_bytes=MB)


# --- time limits and failures ----------------------------------------------------------------


def test_a_server_slower_than_the_timeout_gives_a_timeout(ci: FakeCI) -> None:
    def slow(h: BaseHTTPRequestHandler) -> None:
        ci.release.wait(10)

    ci.routes["/slow"] = slow
    started = time.monotonic()

    with pytest.raises(SourceError, match=r"timed out after 0\.5 seconds"):
        fetch(ci.url("/slow"), allowed_hosts=[ci.allow], max_bytes=1024, timeout=0.5)

    assert time.monotonic() - started < 0.5 + 1


def test_a_server_dripping_its_body_is_cut_off_at_the_deadline(ci: FakeCI) -> None:
    # Each byte arrives well within any per-read timeout; only a deadline on the whole
    # exchange stops this.
    def drip(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        with contextlib.suppress(OSError):
            for _ in range(1000):
                h.wfile.write(b".")
                if ci.release.wait(0.05):
                    return

    ci.routes["/drip"] = drip
    started = time.monotonic()

    with pytest.raises(SourceError, match="timed out after 0.6 seconds"):
        fetch(ci.url("/drip"), allowed_hosts=[ci.allow], max_bytes=1024, timeout=0.6)

    assert time.monotonic() - started < 0.6 + 1


def test_a_server_dripping_its_headers_is_cut_off_at_the_deadline(ci: FakeCI) -> None:
    def drip_headers(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\n")
        with contextlib.suppress(OSError):
            for _ in range(1000):
                h.wfile.write(b"X")
                if ci.release.wait(0.05):
                    return

    ci.routes["/drip"] = drip_headers
    started = time.monotonic()

    with pytest.raises(SourceError, match="timed out after 0.6 seconds"):
        fetch(ci.url("/drip"), allowed_hosts=[ci.allow], max_bytes=1024, timeout=0.6)

    assert time.monotonic() - started < 0.6 + 1


def test_a_refused_connection_is_a_source_error() -> None:
    port = free_port()

    with pytest.raises(SourceError, match=f"connection refused by 127.0.0.1:{port}"):
        fetch(f"http://127.0.0.1:{port}/", allowed_hosts=[f"127.0.0.1:{port}"], max_bytes=1)


def test_an_http_error_status_is_a_source_error(ci: FakeCI) -> None:
    ci.routes["/boom"] = respond(b"oops", status=500)
    ci.routes["/gone"] = respond(b"", status=404)

    with pytest.raises(SourceError, match="HTTP error 500 Internal Server Error"):
        fetch(ci.url("/boom"), allowed_hosts=[ci.allow], max_bytes=1024)
    with pytest.raises(SourceError, match="HTTP error 404 Not Found"):
        fetch(ci.url("/gone"), allowed_hosts=[ci.allow], max_bytes=1024)


def test_https_to_a_plain_http_server_is_a_tls_error(ci: FakeCI) -> None:
    ci.routes["/"] = respond(b"plain")

    with pytest.raises(SourceError, match="TLS error"):
        fetch(f"https://{ci.allow}/", allowed_hosts=[ci.allow], max_bytes=1024, timeout=2)


def test_no_other_exception_escapes(ci: FakeCI, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("surprise")

    monkeypatch.setattr(outbound, "_answer", broken)
    ci.routes["/"] = respond(b"x")

    with pytest.raises(SourceError, match="RuntimeError: surprise"):
        fetch(ci.url("/"), allowed_hosts=[ci.allow], max_bytes=1024)


# --- DNS pinning and TLS against the original name -------------------------------------------


def openssl(folder: Path, args: str) -> None:
    subprocess.run(["openssl", *args.split()], cwd=folder, check=True, capture_output=True)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA and a certificate for ci.example.test, made with the openssl CLI."""
    folder = tmp_path_factory.mktemp("tls")
    (folder / "leaf.ext").write_text(
        "subjectAltName=DNS:ci.example.test\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        folder,
        "req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "-subj /CN=test-ca -addext basicConstraints=critical,CA:TRUE",
    )
    openssl(
        folder,
        "req -newkey rsa:2048 -nodes -keyout leaf.key -out leaf.csr -subj /CN=ci.example.test",
    )
    openssl(
        folder,
        "x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-out leaf.pem -extfile leaf.ext",
    )
    return {name: folder / name for name in ("ca.pem", "leaf.pem", "leaf.key")}


@pytest.fixture
def tls_ci(tls_files: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCI]:
    """An https CI server on loopback whose certificate names ci.example.test, trusted via
    SSL_CERT_FILE (OpenSSL reads it when the default verify paths load)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files["ca.pem"]))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files["leaf.pem"], tls_files["leaf.key"])
    with running_server(tls=context) as server:
        yield server


@pytest.fixture
def loopback_counts_as_public(monkeypatch: pytest.MonkeyPatch) -> None:
    # Tests may only reach loopback, so it stands in for a public CI server here.
    monkeypatch.setattr(outbound, "is_public_address", lambda address: True)


@pytest.mark.usefixtures("loopback_counts_as_public")
def test_https_connects_to_the_checked_address_and_verifies_the_original_name(
    tls_ci: FakeCI, dns: Resolver
) -> None:
    dns.table["ci.example.test"] = ["127.0.0.1"]
    tls_ci.routes["/latest"] = respond(b"<testsuites/>")
    url = tls_ci.url("/latest", host="ci.example.test")

    got = fetch(url, allowed_hosts=[f"ci.example.test:{tls_ci.port}"], max_bytes=1024, timeout=5)

    assert (got.status, got.body) == ("ok", b"<testsuites/>")
    assert tls_ci.seen[0].headers["host"] == f"ci.example.test:{tls_ci.port}"
    # Resolved once, then the checked address was used: a rebinding answer is never asked for.
    assert dns.asked == ["ci.example.test"]


@pytest.mark.usefixtures("loopback_counts_as_public")
def test_a_certificate_for_another_name_is_a_tls_error(tls_ci: FakeCI, dns: Resolver) -> None:
    dns.table["other.example.test"] = ["127.0.0.1"]
    url = tls_ci.url("/latest", host="other.example.test")

    with pytest.raises(SourceError, match="TLS error"):
        fetch(url, allowed_hosts=[f"other.example.test:{tls_ci.port}"], max_bytes=1024, timeout=5)

    assert tls_ci.seen == []


@pytest.mark.usefixtures("loopback_counts_as_public")
def test_a_source_that_says_so_is_read_without_checking_its_certificate(
    tls_ci: FakeCI, dns: Resolver
) -> None:
    # verify_tls=False (a Prometheus source's own setting): still pinned, still SNI for the name.
    dns.table["other.example.test"] = ["127.0.0.1"]
    tls_ci.routes["/latest"] = respond(b"ok")
    url = tls_ci.url("/latest", host="other.example.test")
    allowed = [f"other.example.test:{tls_ci.port}"]

    got = outbound.request(
        "GET", url, allowed_hosts=allowed, max_bytes=1024, timeout=5, verify_tls=False
    )

    assert (got.status, got.body) == (200, b"ok")
    assert tls_ci.seen[0].headers["host"] == f"other.example.test:{tls_ci.port}"
    assert dns.asked == ["other.example.test"]
