"""Prometheus source: one instant query, one HTTP attempt, one value or a ``SourceError``.

The query goes through the portal's outbound client (``portal.outbound.request``), so the host is
resolved once and the connection goes to the address that was checked: for a named source, against
``SOURCE_ALLOWED_HOSTS``; for the operator's ``PROMETHEUS_URL`` (``allowed_hosts=None``), trusted
but pinned all the same. One attempt, no redirect followed (to any host), the body capped at
``MAX_BODY_BYTES`` and the whole exchange bounded by the timeout.

The whole answer is judged here: Prometheus's error type and message, its ``warnings`` (partial
data: no value, RELIABILITY case 22) and its ``infos`` (kept as evidence beside the value).
"""

from __future__ import annotations

import base64
import contextlib
import json
import time
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import unquote, urlencode, urljoin, urlsplit, urlunsplit

from portal import outbound

from . import Reading, SourceError

__all__ = ["read"]

EXCERPT_BYTES = 4096  # of the response, kept as evidence
MAX_BODY_BYTES = 1024 * 1024  # a one-sample answer is a few hundred bytes
MAX_TEXT_CHARS = 500  # of an error message or a warning
SHOWN_WARNINGS = 3  # in the reason; the evidence keeps up to 20
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


def read(
    *,
    url: str,
    query: str,
    timeout: float = 10.0,
    bearer_token: str = "",
    basic_auth: tuple[str, str] | None = None,
    verify_tls: bool = True,
    allowed_hosts: Iterable[str] | None = None,
) -> Reading:
    """Run one instant query (``/api/v1/query``) and return its one value.

    One HTTP attempt to the address the host resolved to, checked against ``allowed_hosts``
    (``None``: the operator's own URL, trusted). ``timeout`` bounds the whole exchange. The value
    is the sample of a one-series vector, or a scalar. Anything else (no series or several, NaN or
    an infinity, warnings, an error answer, no answer) raises ``SourceError`` with the reason; no
    other exception escapes. The evidence holds no credential.
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
            allowed_hosts=allowed_hosts,
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
    bearer_token: str,
    basic_auth: tuple[str, str] | None,
    verify_tls: bool,
    allowed_hosts: Iterable[str] | None,
    detail: dict,
) -> Decimal:
    """One exchange with Prometheus; fills ``detail``."""
    base_url, headers = _base_url(url), _auth_headers(url, bearer_token, basic_auth)
    # Prometheus's own timeout stops the evaluation on its side too.
    params = urlencode({"query": query, "timeout": str(timeout)})
    try:
        response = outbound.request(
            "GET",
            f"{base_url}/api/v1/query?{params}",
            allowed_hosts=allowed_hosts,
            headers=headers,
            max_bytes=MAX_BODY_BYTES,
            timeout=timeout,
            verify_tls=verify_tls,
        )
    except outbound.Refused:
        raise SourceError("connection refused") from None
    except outbound.TimedOut as exc:
        late = " (the response was still arriving)" if exc.arriving else ""
        raise SourceError(f"{_timed_out(timeout)}{late}") from None
    if response.status in _REDIRECT_STATUSES and response.headers.get("Location"):
        raise SourceError(_redirect_reason(response), detail=_redirect_detail(response))
    return _value(response, detail)


def _base_url(url: str) -> str:
    """The URL to query under, if it is an http(s) URL with a host; without user info."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise SourceError("invalid URL") from None
    if parts.scheme not in ("http", "https") or not host:
        raise SourceError("the URL must start with http:// or https:// and name a host")
    netloc = parts.netloc.rpartition("@")[2]  # the credentials travel in the header
    return urlunsplit(parts._replace(netloc=netloc)).rstrip("/")


def _auth_headers(
    url: str, bearer_token: str, basic_auth: tuple[str, str] | None
) -> dict[str, str]:
    """The Authorization header: a bearer token, or basic auth (given, or in the URL)."""
    basic_auth = basic_auth or _url_credentials(url)
    if bearer_token and basic_auth:
        raise SourceError("give a bearer token or basic auth, not both")
    if bearer_token:
        return {"Authorization": f"Bearer {bearer_token}"}
    if basic_auth:
        return {"Authorization": f"Basic {_basic(*basic_auth)}"}
    return {}


def _url_credentials(url: str) -> tuple[str, str] | None:
    with contextlib.suppress(ValueError):
        parts = urlsplit(url)
        if parts.username or parts.password:
            return unquote(parts.username or ""), unquote(parts.password or "")
    return None


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def _value(response: outbound.Response, detail: dict) -> Decimal:
    """The one value of a raw ``/api/v1/query`` answer; fills ``detail`` with the evidence."""
    body = response.body
    detail.update(http_status=response.status, response=_excerpt(body))
    detail["response_bytes"] = len(body)
    answer = _json_object(body)
    if answer is not None and answer.get("status") == "error":
        raise SourceError(_prometheus_error(answer))
    if response.status != 200:
        raise SourceError(f"HTTP {response.status} {response.reason}".strip())
    if answer is None:
        content_type = response.headers.get("Content-Type", "none")[:100]
        raise SourceError(f"the response is not a JSON object (Content-Type: {content_type})")
    if answer.get("status") != "success":
        raise SourceError(f"unknown status {_short(answer.get('status'))} in the response")
    detail.update(_notes(answer))
    if detail.get("warnings"):  # partial data (a failed shard, a dropped series): no evidence
        shown = "; ".join(detail["warnings"][:SHOWN_WARNINGS])
        raise SourceError(f"Prometheus warnings: {shown}"[:MAX_TEXT_CHARS])
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
    """Prometheus's warnings and infos of a successful answer, as evidence."""
    notes = {}
    for key in ("warnings", "infos"):
        items = answer.get(key) or []
        items = items if isinstance(items, list) else [items]
        if items:
            notes[key] = [str(item)[:MAX_TEXT_CHARS] for item in items[:20]]
    return notes


def _redirect_reason(response: outbound.Response) -> str:
    """What a redirect asked for, named by the host it pointed at."""
    host = _host(urljoin(response.url, response.headers["Location"]))
    return f"redirected to {host} (HTTP {response.status}): not followed"


def _redirect_detail(response: outbound.Response) -> dict:
    """The evidence of a refused redirect."""
    location = _without_credentials(urljoin(response.url, response.headers["Location"]))
    return {"http_status": response.status, "location": location[:MAX_TEXT_CHARS]}


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
        secrets += [password, _basic(user, password)]  # the header too, should it be echoed
    with contextlib.suppress(ValueError):
        secrets.append(urlsplit(url).password or "")
    credentials = _url_credentials(url)
    if credentials:
        secrets += [credentials[1], _basic(*credentials)]
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
