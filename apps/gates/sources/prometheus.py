"""Prometheus source: one instant query, one HTTP attempt, one value or a ``SourceError``.

The query goes through prometheus-api-client's ``custom_query``, with three of its habits changed:

- its timeout defaults to None (wait for ever): ``read`` always passes one;
- it mounts a urllib3 ``Retry`` that repeats a failed request (3 times, with back-off, also on
  500/502/503/504): ``read`` mounts ``NO_RETRY`` instead, so a read makes exactly one attempt;
- requests follows redirects, to any host: a response hook refuses every redirect.

``custom_query`` keeps only ``data.result`` and drops the result type, the warnings and
Prometheus's error message, so the same hook keeps the raw response, which is judged here in full.
The hook also reads the body within bounds: requests' timeout applies to each socket read, so a
body trickling in byte by byte would otherwise never time out.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from urllib3.util import Retry

from . import Reading, SourceError

__all__ = ["read"]

EXCERPT_BYTES = 4096  # of the response, kept as evidence
MAX_BODY_BYTES = 1024 * 1024  # a one-sample answer is a few hundred bytes
MAX_TEXT_CHARS = 500  # of an error message or a warning
# No retry on a connect error, a read error or any status; read errors are re-raised as they are.
NO_RETRY = Retry(total=0, read=False, status_forcelist=())


def read(
    *,
    url: str,
    query: str,
    timeout: float = 10.0,
    bearer_token: str = "",
    basic_auth: tuple[str, str] | None = None,
    verify_tls: bool = True,
) -> Reading:
    """Run one instant query (``/api/v1/query``) and return its one value.

    One HTTP attempt: ``timeout`` bounds the connection, the wait for an answer and the whole
    exchange (checked as the body arrives), so a read ends within ``timeout`` seconds, twice that
    at worst when connecting and answering are both slow. The value is the sample of a
    one-series vector, or a scalar. Anything else (no series or several, NaN or an infinity, an
    error answer, no answer) raises ``SourceError`` with the reason; no other exception escapes.
    The evidence holds no credential.
    """
    started = time.monotonic()
    detail: dict = {"url": _without_credentials(url), "query": query}
    secrets = _secrets(url, bearer_token, basic_auth)
    try:
        value = _query(
            url,
            query,
            timeout=timeout,
            bearer_token=bearer_token,
            basic_auth=basic_auth,
            verify_tls=verify_tls,
            detail=detail,
        )
    except SourceError as error:
        failure = error
    except Exception as exc:  # the caller handles SourceError alone
        failure = SourceError(f"unexpected {type(exc).__name__}: {exc}")
        failure.__cause__ = exc
    else:
        return Reading(value=value, detail=_redacted(_timed(detail, started), secrets))
    evidence = _redacted(_timed({**detail, **failure.detail}, started), secrets)
    raise SourceError(_redacted(failure.reason, secrets), detail=evidence) from failure


def _query(
    url: str,
    query: str,
    *,
    timeout: float,
    verify_tls: bool,
    detail: dict,
    bearer_token: str,
    basic_auth: tuple[str, str] | None,
) -> Decimal:
    """One exchange with Prometheus through prometheus-api-client; fills ``detail``."""
    base_url = _checked_url(url)
    headers = _auth_headers(bearer_token, basic_auth)
    taken: list[requests.Response] = []
    hook = _response_hook(deadline=time.monotonic() + timeout, timeout=timeout, taken=taken)
    with _session(verify_tls=verify_tls, hook=hook) as session:
        prometheus = PrometheusConnect(
            url=base_url,
            headers=headers,
            auth=basic_auth,
            retry=NO_RETRY,
            session=session,
            timeout=timeout,
        )
        try:
            response = _exchange(prometheus, query, timeout, taken)
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise SourceError(_transport_reason(exc, timeout)) from exc
    return _value(response, detail)


def _checked_url(url: str) -> str:
    """The base URL to query, if it is an http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise SourceError("invalid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise SourceError("the URL must start with http:// or https:// and name a host")
    return url.rstrip("/")


def _auth_headers(bearer_token: str, basic_auth: tuple[str, str] | None) -> dict | None:
    """The Authorization header for a bearer token (basic auth goes through requests' ``auth``)."""
    if bearer_token and basic_auth:
        raise SourceError("give a bearer token or basic auth, not both")
    return {"Authorization": f"Bearer {bearer_token}"} if bearer_token else None


def _session(*, verify_tls: bool, hook: Callable[..., None]) -> requests.Session:
    """A requests session that reads only what it is told to read."""
    session = requests.Session()
    session.verify = verify_tls
    # No proxy, CA bundle or .netrc credentials from the environment: the URL given is the one read.
    session.trust_env = False
    session.hooks["response"].append(hook)
    return session


def _response_hook(
    *, deadline: float, timeout: float, taken: list[requests.Response]
) -> Callable[..., None]:
    """A response hook: refuse a redirect, read the body within bounds, keep the response."""

    def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.is_redirect:
            raise SourceError(_redirect_reason(response), detail=_redirect_detail(response))
        # Read here, before requests does: it would read without a size or total-time limit.
        response._content = _bounded_body(response.raw, deadline, timeout)
        taken.append(response)

    return hook


def _bounded_body(raw: urllib3.BaseHTTPResponse, deadline: float, timeout: float) -> bytes:
    """The whole body, read as it arrives: at most MAX_BODY_BYTES, and done by the deadline."""
    body = bytearray()
    while chunk := raw.read1(64 * 1024, decode_content=True):
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise SourceError(f"response larger than {MAX_BODY_BYTES} bytes: not read")
        if time.monotonic() > deadline:
            raise SourceError(f"{_timed_out(timeout)} (the response was still arriving)")
    return bytes(body)


def _exchange(
    prometheus: PrometheusConnect, query: str, timeout: float, taken: list[requests.Response]
) -> requests.Response:
    """Send the query with ``custom_query`` and return the raw response the hook kept."""
    try:
        # Prometheus's own timeout stops the evaluation on its side too.
        prometheus.custom_query(query, params={"timeout": str(timeout)})
    except (PrometheusApiClientException, ValueError, LookupError, TypeError):
        # custom_query raises on every answer but a 200 success; the raw answer says why.
        if not taken:
            raise
    return taken[-1]


def _value(response: requests.Response, detail: dict) -> Decimal:
    """The one value of a raw ``/api/v1/query`` answer; fills ``detail`` with the evidence."""
    body = response.content
    detail.update(http_status=response.status_code, response=_excerpt(body))
    detail["response_bytes"] = len(body)
    answer = _json_object(body)
    if answer is not None and answer.get("status") == "error":
        raise SourceError(_prometheus_error(answer))
    if response.status_code != 200:
        raise SourceError(f"HTTP {response.status_code} {response.reason or ''}".strip())
    if answer is None:
        content_type = response.headers.get("Content-Type", "none")[:100]
        raise SourceError(f"the response is not a JSON object (Content-Type: {content_type})")
    if answer.get("status") != "success":
        raise SourceError(f"unknown status {_short(answer.get('status'))} in the response")
    detail.update(_notes(answer))
    return _sample(answer.get("data"), detail)


def _sample(data: object, detail: dict) -> Decimal:
    """The value of a one-series instant vector or of a scalar."""
    if not isinstance(data, dict):
        raise SourceError("malformed response: no data")
    kind, result = data.get("resultType"), data.get("result")
    detail["result_type"] = kind
    if kind == "scalar":
        return _decimal(result)
    if kind != "vector":
        raise SourceError(f"{str(kind)[:50]} result: the query must return one sample or a scalar")
    if not isinstance(result, list):
        raise SourceError("malformed response: the vector is not a list")
    if not result:
        raise SourceError("empty result: the query matched no series")
    if len(result) > 1:
        raise SourceError(f"{len(result)} series: the query must return one")
    series = result[0] if isinstance(result[0], dict) else {}
    if "histogram" in series:
        raise SourceError("the series is a native histogram: the query must return a number")
    return _decimal(series.get("value"))


def _decimal(pair: object) -> Decimal:
    """The value of a ``[timestamp, "value"]`` pair; Prometheus sends values as strings."""
    if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[1], str)):
        raise SourceError('malformed sample: expected [timestamp, "value"]')
    text = pair[1]
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise SourceError(f"value {_short(text)} is not a number") from None
    if not value.is_finite():
        raise SourceError(f"value is {text[:20]}")  # Prometheus writes NaN, +Inf, -Inf
    return value


def _json_object(body: bytes) -> dict | None:
    """The body as a JSON object, or None when it is not one."""
    try:
        answer = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return answer if isinstance(answer, dict) else None


def _prometheus_error(answer: dict) -> str:
    """Prometheus's own words for an error answer: ``errorType: error``."""
    parts = [str(part) for part in (answer.get("errorType"), answer.get("error")) if part]
    return ": ".join(parts)[:MAX_TEXT_CHARS] or "Prometheus answered with an error"


def _notes(answer: dict) -> dict:
    """Prometheus's warnings and infos of a successful answer: kept, the value still stands."""
    notes = {}
    for key in ("warnings", "infos"):
        items = answer.get(key) or []
        items = items if isinstance(items, list) else [items]
        if items:
            notes[key] = [str(item)[:MAX_TEXT_CHARS] for item in items[:20]]
    return notes


def _transport_reason(exc: BaseException, timeout: float) -> str:
    """Why no answer came, from the exception and what caused it."""
    causes = list(_causes(exc))
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "connection refused"
    if any(_is_timeout(cause) for cause in causes):
        return _timed_out(timeout)
    if any(isinstance(cause, socket.gaierror) for cause in causes):
        return "host not found"
    if any(isinstance(cause, ssl.SSLError | requests.exceptions.SSLError) for cause in causes):
        return f"TLS error: {causes[-1]}"[:MAX_TEXT_CHARS]
    return f"request failed: {causes[-1]}"[:MAX_TEXT_CHARS]


def _is_timeout(exc: BaseException) -> bool:
    # urllib3's NewConnectionError is a ConnectTimeoutError for history's sake, and no timeout.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return False
    return isinstance(exc, requests.Timeout | urllib3.exceptions.TimeoutError | TimeoutError)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception, then its causes: requests and urllib3 wrap a socket error twice or more."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < 20:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = (getattr(current, "reason", None), current.__cause__, current.__context__)
        todo += [item for item in (*linked, *current.args) if isinstance(item, BaseException)]


def _redirect_reason(response: requests.Response) -> str:
    """What a redirect asked for, named by the host it pointed at."""
    host = _host(urljoin(response.url, response.headers["Location"]))
    return f"redirected to {host} (HTTP {response.status_code}): not followed"


def _redirect_detail(response: requests.Response) -> dict:
    """The evidence of a refused redirect."""
    location = _without_credentials(urljoin(response.url, response.headers["Location"]))
    return {"http_status": response.status_code, "location": location[:MAX_TEXT_CHARS]}


def _host(url: str) -> str:
    """The host[:port] of a URL, without credentials."""
    try:
        return urlsplit(url).netloc.rpartition("@")[2] or "?"
    except ValueError:
        return "an invalid URL"


def _without_credentials(url: str) -> str:
    """The URL as evidence: without user or password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(invalid URL)"
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _secrets(url: str, bearer_token: str, basic_auth: tuple[str, str] | None) -> list[str]:
    """The strings that must never reach the evidence."""
    secrets = [bearer_token]
    if basic_auth:
        user, password = basic_auth
        # as sent in the Authorization header, should a server echo it back
        encoded = base64.b64encode(f"{user}:{password}".encode("latin-1", "replace")).decode()
        secrets += [password, encoded]
    with contextlib.suppress(ValueError):
        secrets.append(urlsplit(url).password or "")
    return [secret for secret in secrets if secret]


def _redacted(value: Any, secrets: list[str]) -> Any:
    """``value`` (text, or JSON-like data) with every secret replaced by ``[redacted]``."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, "[redacted]")
        return value
    if isinstance(value, dict):
        return {key: _redacted(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_redacted(item, secrets) for item in value]
    return value


def _excerpt(body: bytes) -> str:
    """The start of the body as text, at most EXCERPT_BYTES of UTF-8."""
    text = body[:EXCERPT_BYTES].decode("utf-8", "replace")
    return text.encode()[:EXCERPT_BYTES].decode("utf-8", "ignore")


def _timed(detail: dict, started: float) -> dict:
    return {**detail, "elapsed_ms": round((time.monotonic() - started) * 1000)}


def _timed_out(timeout: float) -> str:
    return f"timed out after {float(timeout)} s"


def _short(value: object) -> str:
    return repr(value)[:50]
