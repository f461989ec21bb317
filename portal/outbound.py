"""The portal's one outbound HTTP client: every request to another server goes through here.

A URL typed in by a user (a CI's report URL, a webhook, a Prometheus source from a spec) must never
let the portal reach its own network: the cloud metadata service, a loopback database, an intranet
host. Every URL (and every redirect target) is vetted: http(s) only, no user info, a host on the
allowlist, and every address the host resolves to public. The name is resolved ONCE: the request
connects to an address that was checked (a second lookup is what DNS rebinding exploits), still
sending the original Host header and, for https, verifying the certificate against the original
host name (SNI).

``allowed_hosts=None`` is for the operator's own URL (``PROMETHEUS_URL``, often on loopback): no
allowlist and private addresses allowed, but still resolved once and pinned.

Allowlist entries: ``host`` (ports 80 and 443), ``host:port``, ``*.example.com`` (subdomains,
optionally ``*.example.com:port``), ``[v6 literal]:port``. An entry naming a literal IP with an
explicit port (``127.0.0.1:8123``) allows exactly that IP and port even when it is private, for
tests and on-prem servers; nothing else on that IP.

Bodies are bounded: a declared Content-Length over ``max_bytes`` is refused before reading, the
stream is cut once more than ``max_bytes`` arrived, and a gzip/deflate body is inflated in chunks
with a hard output cap of ``max_bytes`` (a gzip bomb stops there). A watchdog ends the whole
exchange at its deadline. Every failure is an ``OutboundError``, never another exception.
"""

from __future__ import annotations

import contextlib
import ipaddress
import math
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.response import HTTPResponse
from urllib3.util.ssl_match_hostname import CertificateError as Urllib3CertificateError

__all__ = [
    "MAX_REDIRECTS",
    "Fetched",
    "OutboundError",
    "Refused",
    "Response",
    "TimedOut",
    "UnsafeURL",
    "check_url",
    "fetch",
    "is_public_address",
    "post",
    "request",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 3  # followed by fetch()
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BARE_HOST_PORTS = frozenset({80, 443})
_CHUNK = 64 * 1024
_USER_AGENT = "launch-portal/1"
_FETCH_USER_AGENT = "launch-portal-fetch/1"

# IPv6 ranges that carry an IPv4 address in their low 32 bits (IPv4-compatible, NAT64).
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Ranges some Python versions still call global; none of them is a server on the Internet.
_NEVER_PUBLIC = (
    ipaddress.IPv4Network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64
)


class OutboundError(Exception):
    """No usable answer: ``reason`` says why in a line, ``detail`` keeps evidence."""

    def __init__(self, reason: str, *, detail: dict | None = None):
        super().__init__(reason)
        self.reason = reason
        self.detail = detail or {}


class UnsafeURL(OutboundError):
    """The URL may not be requested: bad scheme, user info, host not allowed, non-public address."""


class Refused(OutboundError):
    """Every checked address refused the connection."""


class TimedOut(OutboundError):
    """No complete answer in time; ``arriving`` when the answer had begun (its body was late)."""

    def __init__(self, reason: str, *, arriving: bool = False):
        super().__init__(reason)
        self.arriving = arriving


@dataclass(frozen=True)
class Response:
    """One answer: ``body`` is decoded, bounded, and ``b""`` when it was not read."""

    status: int
    reason: str
    headers: Mapping[str, str]  # case-insensitive
    body: bytes
    url: str  # the URL that answered (after any redirect followed)


@dataclass(frozen=True)
class Fetched:
    """What one fetch gave: the body (``b""`` when not modified) and its validators."""

    status: str  # "ok" or "not_modified"
    body: bytes
    etag: str
    last_modified: str
    url: str


@dataclass(frozen=True)
class _Target:
    """A vetted URL, pinned to the addresses that were checked."""

    url: str
    scheme: str
    host: str
    port: int
    ips: tuple[str, ...]
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class _Call:
    """The parts of a request that stay the same across redirects."""

    allowed: tuple[str, ...] | None  # None: the operator's own URL
    headers: dict[str, str]
    max_bytes: int
    timeout: float
    deadline: float  # time.monotonic() by which the whole request, redirects included, is over
    connect_timeout: float | None
    read_timeout: float | None
    verify_tls: bool
    read_body: bool

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _timed_out(self.timeout)
        return left


# --- the URL policy --------------------------------------------------------------------------


def check_url(url: str, *, allowed_hosts: Iterable[str] | None) -> None:
    """Refuse a URL that is not http(s), whose host is not on the allowlist, or that resolves to a
    non-public address. Called when a URL is saved; every request checks again.

    Raises ``UnsafeURL`` when refused, ``OutboundError`` when the host cannot be resolved or the
    allowlist is malformed.
    """
    _vet(url, _entries(allowed_hosts))


def _entries(allowed_hosts: Iterable[str] | None) -> tuple[str, ...] | None:
    if allowed_hosts is None:
        return None
    # A lone string would otherwise be read as a list of one-letter host names.
    return (allowed_hosts,) if isinstance(allowed_hosts, str) else tuple(allowed_hosts)


def _vet(url: str, allowed: tuple[str, ...] | None) -> _Target:
    """Check ``url`` against the policy and pin it to the checked addresses."""
    parts = _split(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    port = _port(parts, scheme)
    pinned = allowed is None or _allowlisted(host, port, allowed)
    ips = _resolve(host, port, private_ok=pinned)
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return _Target(url=url, scheme=scheme, host=host, port=port, ips=ips, path=path)


def _split(url: str) -> SplitResult:
    """Parse ``url`` and refuse the shapes that are never a server's URL."""
    # urlsplit silently drops tabs and newlines and browsers treat "\" as "/": refuse, not guess.
    if any(ch <= " " or ch in "\\\x7f" for ch in url):
        raise UnsafeURL("URL contains whitespace, control characters or a backslash")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UnsafeURL(f"URL cannot be parsed: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise UnsafeURL(f"scheme {scheme or '(none)'!r} is not allowed; only http and https are")
    if "@" in parts.netloc:
        raise UnsafeURL("URLs with a user name or password are not allowed")
    if not parts.hostname:
        raise UnsafeURL("URL has no host")
    if not parts.hostname.isascii():
        raise UnsafeURL("host names must be ASCII (use the xn-- form)")
    return parts


def _port(parts: SplitResult, scheme: str) -> int:
    try:
        port = parts.port
    except ValueError:
        raise UnsafeURL("URL has an invalid port") from None
    return port if port is not None else _DEFAULT_PORTS[scheme]


def _allowlisted(host: str, port: int, allowed: tuple[str, ...]) -> bool:
    """Raise unless an entry allows ``host:port``; True when a literal-IP:port entry pins it."""
    matched = False
    for entry in allowed:
        entry_host, entry_port = _parse_entry(entry)
        if not _entry_matches(entry_host, entry_port, host, port):
            continue
        if entry_port is not None and _ip_or_none(entry_host) is not None:
            return True  # an operator named this exact IP and port: it may be private
        matched = True
    if not matched:
        shown = f"[{host}]" if ":" in host else host
        raise UnsafeURL(f"host {shown}:{port} is not on the allowlist")
    return False


def _parse_entry(entry: str) -> tuple[str, int | None]:
    """``"Host:8080"`` -> ``("host", 8080)``; a bare host gives ``None`` for the port."""
    try:
        parts = urlsplit("//" + entry.strip().lower())
        port = parts.port
    except ValueError:
        raise OutboundError(f"invalid allowlist entry {entry!r}") from None
    if not parts.hostname or parts.path or parts.query or "@" in parts.netloc:
        raise OutboundError(f"invalid allowlist entry {entry!r}")
    return parts.hostname, port


def _entry_matches(entry_host: str, entry_port: int | None, host: str, port: int) -> bool:
    if port not in (_BARE_HOST_PORTS if entry_port is None else {entry_port}):
        return False
    if entry_host.startswith("*."):
        # Subdomains only, and never an IP literal ("*.0.1" must not match 127.0.0.1).
        return host.endswith(entry_host[1:]) and _ip_or_none(host) is None
    return host == entry_host


def _resolve(host: str, port: int, *, private_ok: bool) -> tuple[str, ...]:
    """Resolve once and return the addresses to connect to; refuse if ANY is not public.

    Checking every address (not just the first) matters: the connection could land on any.
    """
    addresses = _addresses(host, port)
    if not private_ok:
        for address in addresses:
            if not is_public_address(address):
                raise UnsafeURL(f"host {host} resolves to {address}, which is not a public address")
    return tuple(dict.fromkeys(str(address) for address in addresses))


def _addresses(host: str, port: int) -> list[IPAddress]:
    literal = _ip_or_none(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise OutboundError(f"cannot resolve host {host}: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise OutboundError(f"cannot resolve host {host}: no addresses")
    return addresses


def _ip_or_none(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def is_public_address(address: IPAddress) -> bool:
    """True when ``address``, and any IPv4 address embedded in it, is globally routable."""
    return all(_plainly_public(a) for a in _with_embedded(address))


def _with_embedded(address: IPAddress) -> list[IPAddress]:
    """The address plus any IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4,
    Teredo): ``[::ffff:127.0.0.1]`` is loopback, whatever its IPv6 range says."""
    if isinstance(address, ipaddress.IPv4Address):
        return [address]
    found: list[IPAddress] = [address]
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in _V4_COMPATIBLE or address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address.teredo is not None:
        found.extend(address.teredo)
    return found


def _plainly_public(address: IPAddress) -> bool:
    if any(address in network for network in _NEVER_PUBLIC if network.version == address.version):
        return False
    local = (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv6Address) and address.is_site_local)
    )
    return address.is_global and not local


# --- the verbs -------------------------------------------------------------------------------


def request(
    method: str,
    url: str,
    *,
    allowed_hosts: Iterable[str] | None,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    max_bytes: int,
    timeout: float,
    connect_timeout: float | None = None,
    read_timeout: float | None = None,
    redirects: int = 0,
    verify_tls: bool = True,
    read_body: bool = True,
) -> Response:
    """Send one request to a vetted, pinned address and return the answer, whatever its status.

    ``timeout`` bounds the whole exchange, redirects included (name resolution aside);
    ``connect_timeout`` and ``read_timeout`` optionally bound each connect and each read. A GET or
    HEAD follows up to ``redirects`` redirects, each vetted again; a redirect not followed is the
    answer. ``allowed_hosts=None``: the operator's own URL (see the module docstring). Raises
    ``OutboundError`` (``UnsafeURL``, ``Refused``, ``TimedOut``), never anything else.
    """
    try:
        call = _Call(
            allowed=_entries(allowed_hosts),
            headers=dict(headers or {}),
            max_bytes=max_bytes,
            timeout=timeout,
            deadline=time.monotonic() + timeout,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            verify_tls=verify_tls,
            read_body=read_body,
        )
        method = method.upper()
        return _follow(method, url, body, call, redirects if method in ("GET", "HEAD") else 0)
    except OutboundError:
        raise
    except Exception as exc:  # the contract: callers only ever handle OutboundError
        raise OutboundError(f"request failed: {type(exc).__name__}: {exc}") from exc


def fetch(
    url: str,
    *,
    allowed_hosts: Iterable[str],
    max_bytes: int,
    timeout: float = 10.0,
    etag: str = "",
    last_modified: str = "",
) -> Fetched:
    """GET ``url`` with If-None-Match / If-Modified-Since and return the body or "not_modified".

    Follows at most ``MAX_REDIRECTS`` redirects; any status but 2xx and 304 is an error.
    """
    headers = {"User-Agent": _FETCH_USER_AGENT}
    # Validators come from an earlier response; one that could split headers is just not sent.
    if etag and etag.isprintable():
        headers["If-None-Match"] = etag
    if last_modified and last_modified.isprintable():
        headers["If-Modified-Since"] = last_modified
    got = request(
        "GET",
        url,
        allowed_hosts=allowed_hosts,
        headers=headers,
        max_bytes=max_bytes,
        timeout=timeout,
        redirects=MAX_REDIRECTS,
    )
    status, found = got.status, got.headers
    if status in _REDIRECT_STATUSES:
        if not found.get("Location", "").strip():
            raise OutboundError(f"HTTP {status} redirect without a Location header from {got.url}")
        raise OutboundError(f"too many redirects (more than {MAX_REDIRECTS}) from {url}")
    if status == 304:
        etag, last_modified = found.get("ETag", etag), found.get("Last-Modified", last_modified)
        return Fetched("not_modified", b"", etag=etag, last_modified=last_modified, url=got.url)
    if not 200 <= status < 300:
        kind = "HTTP error" if status >= 400 else "unexpected HTTP status"
        raise OutboundError(f"{kind} {status} {got.reason} from {got.url}")
    etag, last_modified = found.get("ETag", ""), found.get("Last-Modified", "")
    return Fetched("ok", got.body, etag=etag, last_modified=last_modified, url=got.url)


def post(
    url: str,
    *,
    body: bytes,
    headers: Mapping[str, str],
    allowed_hosts: Iterable[str] | None,
    connect_timeout: float = 3.0,
    read_timeout: float = 5.0,
) -> Response:
    """POST ``body`` and return the status; no redirect is followed and the body is not read.

    The whole exchange ends within ``connect_timeout + read_timeout`` seconds.
    """
    return request(
        "POST",
        url,
        allowed_hosts=allowed_hosts,
        headers=headers,
        body=body,
        max_bytes=0,
        timeout=connect_timeout + read_timeout,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
        read_body=False,
    )


# --- one request -----------------------------------------------------------------------------


def _follow(method: str, url: str, body: bytes | None, call: _Call, redirects: int) -> Response:
    """Run the exchange, following redirects by hand so each target is vetted before use."""
    target = _vet(url, call.allowed)
    while True:
        outcome = _exchange(target, method, body, call, follow=redirects > 0)
        if isinstance(outcome, Response):
            return outcome
        redirects -= 1
        location = urljoin(target.url, outcome)
        try:
            target = _vet(location, call.allowed)
        except UnsafeURL as exc:
            raise UnsafeURL(f"redirect to {location} refused: {exc.reason}") from None


def _exchange(
    target: _Target, method: str, body: bytes | None, call: _Call, *, follow: bool
) -> Response | str:
    """One request on a fresh connection to a checked address: the answer, or a URL to follow."""
    conn = _open(target, call)
    # The socket itself: http.client lets go of it once an answer says the connection closes.
    watchdog = _Watchdog(conn.sock, call.deadline - time.monotonic())
    response: HTTPResponse | None = None
    try:
        conn.timeout = call.read_timeout or call.remaining()  # getresponse() applies it
        headers = _headers(target, body, call)
        conn.request(
            method,
            target.path,
            body=body,
            headers=headers,
            preload_content=False,
            decode_content=False,
        )
        response = conn.getresponse()
        outcome = _answer(response, target, call, follow=follow)
    except Exception as exc:
        answered = response is not None
        failure = _failure(exc, target, conn.host, call, fired=watchdog.fired, answered=answered)
        raise failure from None
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()
        conn.close()
    if watchdog.fired:  # the cut-off socket may look like a complete (truncated) body
        raise _timed_out(call.timeout, arriving=True)
    return outcome


def _open(target: _Target, call: _Call) -> HTTPConnection:
    """Connect to the first checked address that takes the connection; never to the name again."""
    failure = OutboundError(f"no address for {target.host}")
    for ip in target.ips:
        conn = _connection(target, ip, call)
        try:
            conn.connect()
            return conn
        except Exception as exc:
            conn.close()
            failure = _failure(exc, target, ip, call)
            if isinstance(failure, TimedOut) or not isinstance(exc, NewConnectionError):
                raise failure from None
    raise failure  # every address refused or was unreachable


def _connection(target: _Target, ip: str, call: _Call) -> HTTPConnection:
    seconds = min(call.connect_timeout or math.inf, call.remaining())
    if target.scheme == "http":
        return HTTPConnection(ip, target.port, timeout=seconds)
    # TLS is checked against the original name, though the socket goes to the checked IP.
    checks = {"assert_hostname": target.host}
    if not call.verify_tls:  # the source says so: its certificate is not checked at all
        checks = {"cert_reqs": "CERT_NONE", "assert_hostname": False}
    return HTTPSConnection(ip, target.port, timeout=seconds, server_hostname=target.host, **checks)


def _headers(target: _Target, body: bytes | None, call: _Call) -> dict[str, str]:
    defaults = {"User-Agent": _USER_AGENT}
    if call.read_body:
        defaults["Accept-Encoding"] = "gzip, deflate"
    fixed = {"Host": target.host_header, "Connection": "close"}
    if body is not None:
        fixed["Content-Length"] = str(len(body))
    return {**defaults, **call.headers, **fixed}


def _answer(
    response: HTTPResponse, target: _Target, call: _Call, *, follow: bool
) -> Response | str:
    """The answer, with its body read within bounds; or the Location of a redirect to follow."""
    location = response.headers.get("Location", "").strip()
    if follow and response.status in _REDIRECT_STATUSES and location:
        return location
    body = _read_body(response, call.max_bytes) if call.read_body else b""
    return Response(response.status, response.reason or "", response.headers, body, target.url)


# --- bounded bodies --------------------------------------------------------------------------


def _read_body(response: HTTPResponse, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` off the wire and, once decoded, at most ``max_bytes`` again."""
    declared = _content_length(response.headers.get("Content-Length", ""))
    if declared is not None and declared > max_bytes:
        raise OutboundError(f"body is {declared} bytes, over the limit of {max_bytes} bytes")
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise OutboundError(f"unsupported Content-Encoding {encoding!r}")
    chunks = _capped_chunks(response, max_bytes)
    if encoding in ("", "identity"):
        return b"".join(chunks)
    return _inflate(chunks, max_bytes)


def _content_length(value: str) -> int | None:
    # A malformed or repeated header is not trusted either way; the streaming cap still holds.
    try:
        return int(value)
    except ValueError:
        return None


def _capped_chunks(response: HTTPResponse, max_bytes: int) -> Iterator[bytes]:
    """Yield raw body chunks; stop with an error once more than ``max_bytes`` arrived, because
    Content-Length may be absent (chunked) or lie."""
    received = 0
    while chunk := response.read(_CHUNK, decode_content=False):
        received += len(chunk)
        if received > max_bytes:
            raise OutboundError(f"body is over the limit of {max_bytes} bytes")
        yield chunk


def _inflate(chunks: Iterable[bytes], max_bytes: int) -> bytes:
    """Decompress gzip or zlib data, never producing more than ``max_bytes`` (a gzip bomb's
    output is capped as it inflates, not measured afterwards)."""
    inflater = zlib.decompressobj(32 + zlib.MAX_WBITS)  # 32+: accept a gzip or a zlib header
    out = bytearray()
    try:
        for chunk in chunks:
            data = chunk
            while data and not inflater.eof:
                out += inflater.decompress(data, max_bytes + 1 - len(out))
                if len(out) > max_bytes:
                    raise OutboundError(f"decompressed body is over the limit of {max_bytes} bytes")
                data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise OutboundError(f"compressed body is corrupt: {exc}") from None
    if not inflater.eof:
        raise OutboundError("compressed body is truncated")
    return bytes(out)


# --- time and failures -----------------------------------------------------------------------


class _Watchdog:
    """Shuts a connected socket down at the deadline.

    Socket timeouts bound each recv, not the exchange: a server dripping one byte a second
    (headers or body) would otherwise hold a worker for ever.
    """

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = False
        self._sock = sock
        self._lock = threading.Lock()  # so the socket is never touched after close()
        self._done = False
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            # Wakes the blocked recv with EOF. OSError: already closed.
            with contextlib.suppress(OSError, ValueError):
                self._sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


def _timed_out(seconds: float, *, arriving: bool = False) -> TimedOut:
    return TimedOut(f"timed out after {seconds:g} seconds", arriving=arriving)


def _failure(
    exc: Exception,
    target: _Target,
    ip: str,
    call: _Call,
    *,
    fired: bool = False,
    answered: bool = False,
) -> OutboundError:
    """The OutboundError to raise for an exception from one exchange with ``ip``."""
    where = f"{target.host_header} ({ip})"
    if fired:
        return _timed_out(call.timeout, arriving=answered)
    if _is_timeout(exc):
        limit = call.connect_timeout if isinstance(exc, ConnectTimeoutError) else call.read_timeout
        return _timed_out(limit or call.timeout, arriving=answered)
    if isinstance(exc, OutboundError):
        return exc
    if isinstance(exc, NewConnectionError):
        cause = exc.__cause__ or exc
        if isinstance(cause, ConnectionRefusedError):
            return Refused(f"connection refused by {where}")
        return OutboundError(f"cannot connect to {where}: {cause}")
    if isinstance(
        exc, ssl.SSLError | ssl.CertificateError | Urllib3CertificateError | Urllib3SSLError
    ):
        return OutboundError(f"TLS error with {where}: {exc}")
    if isinstance(exc, Urllib3Error | HTTPException | OSError):
        return OutboundError(f"connection to {where} failed: {type(exc).__name__}: {exc}")
    return OutboundError(f"request to {where} failed: {type(exc).__name__}: {exc}")


def _is_timeout(exc: Exception) -> bool:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x, but is not a timeout.
    if isinstance(exc, NewConnectionError):
        return isinstance(exc.__cause__, TimeoutError)
    return isinstance(exc, TimeoutError | ConnectTimeoutError | ReadTimeoutError)
