"""Fetch a report from a pull source (a CI's "latest artifact" URL) without becoming an SSRF proxy.

A pull URL is typed in by a user, so the portal must never let it reach its own network: the
cloud metadata service, a loopback database, an intranet host. Every URL (the saved one and every
redirect target) goes through ``check_url``: http(s) only, no user info, a host on the allowlist,
and every address the host resolves to public. ``fetch`` then connects to the very address it
checked (a second DNS lookup is what DNS rebinding exploits), still sending the original Host
header and, for https, verifying the certificate against the original host name (SNI).

Allowlist entries: ``host`` (ports 80 and 443), ``host:port``, ``*.example.com`` (subdomains,
optionally ``*.example.com:port``), ``[v6 literal]:port``. An entry naming a literal IP with an
explicit port (``127.0.0.1:8123``) allows exactly that IP and port even when it is private, for
tests and on-prem CI servers; nothing else on that IP.

Bodies are bounded: a declared Content-Length over ``max_bytes`` is refused before reading, the
stream is cut once more than ``max_bytes`` arrived, and a gzip/deflate body is inflated in chunks
with a hard output cap of ``max_bytes`` (a gzip bomb stops there). Every failure is a
``SourceError``; ``UnsafeURL`` when the URL itself is not allowed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http.client import HTTPException
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import SSLError as Urllib3SSLError
from urllib3.response import HTTPResponse
from urllib3.util.ssl_match_hostname import CertificateError as Urllib3CertificateError

from apps.gates.sources import SourceError

__all__ = ["Fetched", "UnsafeURL", "check_url", "fetch"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_REDIRECTS = 3
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_BARE_HOST_PORTS = frozenset({80, 443})
_CHUNK = 64 * 1024
_USER_AGENT = "launch-portal-fetch/1"

# IPv6 ranges that carry an IPv4 address in their low 32 bits (IPv4-compatible, NAT64).
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Ranges some Python versions still call global; none of them is a CI server on the Internet.
_NEVER_PUBLIC = (
    ipaddress.IPv4Network("100.64.0.0/10"),  # carrier-grade NAT
    ipaddress.IPv6Network("64:ff9b:1::/48"),  # local-use NAT64
)


class UnsafeURL(SourceError):
    """The URL may not be fetched: wrong scheme, user info, host not allowed, non-public address."""


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
    """A vetted URL, pinned to the address that was checked."""

    url: str
    scheme: str
    host: str
    port: int
    ip: str
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


@dataclass(frozen=True)
class _Request:
    """The parts of a fetch that stay the same across redirects."""

    allowed: tuple[str, ...]
    max_bytes: int
    timeout: float
    deadline: float  # time.monotonic() by which the whole fetch, redirects included, is over
    etag: str
    last_modified: str

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise _timed_out(self.timeout)
        return left


# --- the URL policy --------------------------------------------------------------------------


def check_url(url: str, *, allowed_hosts: Iterable[str]) -> None:
    """Refuse a URL that is not http(s), whose host is not on the allowlist, or that resolves to a
    non-public address. Called when a pull URL is saved AND again at every fetch.

    Raises ``UnsafeURL`` (a ``SourceError``) when refused, ``SourceError`` when the host cannot be
    resolved or the allowlist is malformed.
    """
    _vet(url, _entries(allowed_hosts))


def _entries(allowed_hosts: Iterable[str]) -> tuple[str, ...]:
    # A lone string would otherwise be read as a list of one-letter host names.
    return (allowed_hosts,) if isinstance(allowed_hosts, str) else tuple(allowed_hosts)


def _vet(url: str, allowed: tuple[str, ...]) -> _Target:
    """Check ``url`` against the policy and pin it to one checked address."""
    parts = _split(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    port = _port(parts, scheme)
    pinned = _allowlisted(host, port, allowed)
    ip = _resolve(host, port, private_ok=pinned)
    path = urlunsplit(("", "", parts.path or "/", parts.query, ""))
    return _Target(url=url, scheme=scheme, host=host, port=port, ip=ip, path=path)


def _split(url: str) -> SplitResult:
    """Parse ``url`` and refuse the shapes that are never a CI artifact URL."""
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
        raise SourceError(f"invalid allowlist entry {entry!r}") from None
    if not parts.hostname or parts.path or parts.query or "@" in parts.netloc:
        raise SourceError(f"invalid allowlist entry {entry!r}")
    return parts.hostname, port


def _entry_matches(entry_host: str, entry_port: int | None, host: str, port: int) -> bool:
    if port not in (_BARE_HOST_PORTS if entry_port is None else {entry_port}):
        return False
    if entry_host.startswith("*."):
        # Subdomains only, and never an IP literal ("*.0.1" must not match 127.0.0.1).
        return host.endswith(entry_host[1:]) and _ip_or_none(host) is None
    return host == entry_host


def _resolve(host: str, port: int, *, private_ok: bool) -> str:
    """Resolve once and return the address to connect to; refuse if ANY address is not public.

    Checking every address (not just the first) matters: the connection could land on any.
    """
    addresses = _addresses(host, port)
    if not private_ok:
        for address in addresses:
            if not is_public_address(address):
                raise UnsafeURL(f"host {host} resolves to {address}, which is not a public address")
    return str(addresses[0])


def _addresses(host: str, port: int) -> list[IPAddress]:
    literal = _ip_or_none(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise SourceError(f"cannot resolve host {host}: {exc}") from None
    addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    if not addresses:
        raise SourceError(f"cannot resolve host {host}: no addresses")
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


# --- the fetch -------------------------------------------------------------------------------


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

    Follows at most ``MAX_REDIRECTS`` redirects, each re-checked with the URL policy. The whole
    exchange, redirects included, ends within about ``timeout`` seconds (name resolution aside).
    Raises ``UnsafeURL`` or ``SourceError``, never anything else.
    """
    try:
        request = _Request(
            allowed=_entries(allowed_hosts),
            max_bytes=max_bytes,
            timeout=timeout,
            deadline=time.monotonic() + timeout,
            etag=etag,
            last_modified=last_modified,
        )
        return _follow(url, request)
    except SourceError:
        raise
    except Exception as exc:  # the contract: callers only ever handle SourceError
        raise SourceError(f"fetch failed: {type(exc).__name__}: {exc}") from exc


def _follow(url: str, request: _Request) -> Fetched:
    """Run the exchange, following redirects by hand so each target is vetted before use."""
    target = _vet(url, request.allowed)
    for _hop in range(MAX_REDIRECTS + 1):
        outcome = _exchange(target, request)
        if isinstance(outcome, Fetched):
            return outcome
        location = urljoin(target.url, outcome)
        try:
            target = _vet(location, request.allowed)
        except UnsafeURL as exc:
            raise UnsafeURL(f"redirect to {location} refused: {exc.reason}") from None
    raise SourceError(f"too many redirects (more than {MAX_REDIRECTS}) from {url}")


def _exchange(target: _Target, request: _Request) -> Fetched | str:
    """One request on a fresh connection to the pinned address: a result, or a redirect URL."""
    conn = _connection(target, request.remaining())
    watchdog = _Watchdog(conn, request.remaining())
    try:
        outcome = _converse(conn, target, request)
    except Exception as exc:
        raise _failure(exc, target, request.timeout, timed_out=watchdog.fired) from None
    finally:
        watchdog.cancel()
        conn.close()
    if watchdog.fired:  # the cut-off socket may look like a complete (truncated) body
        raise _timed_out(request.timeout)
    return outcome


def _connection(target: _Target, seconds: float) -> HTTPConnection:
    # Connect to the checked IP, never to the name again; TLS still verifies the original name.
    if target.scheme == "https":
        return HTTPSConnection(
            target.ip,
            target.port,
            timeout=seconds,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    return HTTPConnection(target.ip, target.port, timeout=seconds)


def _converse(conn: HTTPConnection, target: _Target, request: _Request) -> Fetched | str:
    conn.connect()
    headers = {
        "Host": target.host_header,
        "User-Agent": _USER_AGENT,
        "Accept-Encoding": "gzip, deflate",
        "Connection": "close",
    }
    # Validators come from an earlier response; one that could split headers is just not sent.
    if request.etag and request.etag.isprintable():
        headers["If-None-Match"] = request.etag
    if request.last_modified and request.last_modified.isprintable():
        headers["If-Modified-Since"] = request.last_modified
    conn.request("GET", target.path, headers=headers, preload_content=False, decode_content=False)
    return _interpret(conn.getresponse(), target, request)


def _interpret(response: HTTPResponse, target: _Target, request: _Request) -> Fetched | str:
    """Turn a response into a result, a redirect location, or a SourceError."""
    status, headers = response.status, response.headers
    if status in _REDIRECT_STATUSES:
        location = headers.get("Location", "").strip()
        if not location:
            raise SourceError(f"HTTP {status} redirect without a Location header from {target.url}")
        return location
    if status == 304:
        return Fetched(
            status="not_modified",
            body=b"",
            etag=headers.get("ETag", request.etag),
            last_modified=headers.get("Last-Modified", request.last_modified),
            url=target.url,
        )
    if not 200 <= status < 300:
        kind = "HTTP error" if status >= 400 else "unexpected HTTP status"
        raise SourceError(f"{kind} {status} {response.reason} from {target.url}")
    body = _read_body(response, request.max_bytes)
    etag, modified = headers.get("ETag", ""), headers.get("Last-Modified", "")
    return Fetched(status="ok", body=body, etag=etag, last_modified=modified, url=target.url)


# --- bounded bodies --------------------------------------------------------------------------


def _read_body(response: HTTPResponse, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` off the wire and, once decoded, at most ``max_bytes`` again."""
    declared = _content_length(response.headers.get("Content-Length", ""))
    if declared is not None and declared > max_bytes:
        raise SourceError(f"body is {declared} bytes, over the limit of {max_bytes} bytes")
    encoding = response.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise SourceError(f"unsupported Content-Encoding {encoding!r}")
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
            raise SourceError(f"body is over the limit of {max_bytes} bytes")
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
                    raise SourceError(f"decompressed body is over the limit of {max_bytes} bytes")
                data = inflater.unconsumed_tail
    except zlib.error as exc:
        raise SourceError(f"compressed body is corrupt: {exc}") from None
    if not inflater.eof:
        raise SourceError("compressed body is truncated")
    return bytes(out)


# --- time and failures -----------------------------------------------------------------------


class _Watchdog:
    """Shuts the connection's socket down at the deadline.

    Socket timeouts bound each recv, not the exchange: a server dripping one byte a second
    (headers or body) would otherwise hold a worker for ever.
    """

    def __init__(self, conn: HTTPConnection, seconds: float) -> None:
        self.fired = False
        self._conn = conn
        self._lock = threading.Lock()  # so the socket is never touched after close()
        self._done = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        with self._lock:
            if self._done:
                return
            self.fired = True
            sock = self._conn.sock
            if sock is not None:
                # Wakes the blocked recv with EOF. OSError: closed or mid-handshake; the
                # per-operation timeouts still bound that part.
                with contextlib.suppress(OSError, ValueError):
                    sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        with self._lock:
            self._done = True
        self._timer.cancel()


def _timed_out(timeout: float) -> SourceError:
    return SourceError(f"timed out after {timeout:g} seconds")


def _failure(exc: Exception, target: _Target, timeout: float, *, timed_out: bool) -> SourceError:
    """The SourceError to raise for an exception from one exchange."""
    where = f"{target.host_header} ({target.ip})"
    if timed_out or _is_timeout(exc):
        return _timed_out(timeout)
    if isinstance(exc, SourceError):
        return exc
    if isinstance(exc, NewConnectionError):
        cause = exc.__cause__ or exc
        if isinstance(cause, ConnectionRefusedError):
            return SourceError(f"connection refused by {where}")
        return SourceError(f"cannot connect to {where}: {cause}")
    if isinstance(
        exc, ssl.SSLError | ssl.CertificateError | Urllib3CertificateError | Urllib3SSLError
    ):
        return SourceError(f"TLS error with {where}: {exc}")
    if isinstance(exc, Urllib3Error | HTTPException | OSError):
        return SourceError(f"connection to {where} failed: {type(exc).__name__}: {exc}")
    return SourceError(f"fetch from {where} failed: {type(exc).__name__}: {exc}")


def _is_timeout(exc: Exception) -> bool:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2.x, but is not a timeout.
    if isinstance(exc, NewConnectionError):
        return isinstance(exc.__cause__, TimeoutError)
    return isinstance(exc, TimeoutError | ConnectTimeoutError | ReadTimeoutError)
