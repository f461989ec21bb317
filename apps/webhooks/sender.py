"""POST one webhook body without becoming an SSRF proxy.

Built on the pull sources' URL policy (apps/gates/sources/fetch.py): the URL is vetted against
``SOURCE_ALLOWED_HOSTS`` and pinned to the address that was checked (no second DNS lookup), TLS
verifies the original host name. Redirects are never followed: a 3xx is the answer. The
connection gets ``connect_timeout`` seconds, each read ``read_timeout`` seconds, and a watchdog cuts
the whole exchange after their sum, so a server dripping bytes cannot hold a worker.
"""

from dataclasses import dataclass

from apps.gates.sources.fetch import (
    _connection,
    _entries,
    _failure,
    _timed_out,
    _vet,
    _Watchdog,
)

__all__ = ["Answer", "post"]

_USER_AGENT = "launch-portal-webhooks/1"


@dataclass(frozen=True)
class Answer:
    status: int
    reason: str


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    allowed_hosts,
    connect_timeout: float = 3.0,
    read_timeout: float = 5.0,
) -> Answer:
    """POST ``body`` to ``url`` and return the response status; the response body is not read.

    Raises ``UnsafeURL`` when the URL is refused by the policy, ``SourceError`` on any failure to
    get an answer (refused, timed out, TLS, reset), never anything else.
    """
    target = _vet(url, _entries(allowed_hosts))
    conn = _connection(target, connect_timeout)
    watchdog = _Watchdog(conn, connect_timeout + read_timeout)
    try:
        conn.connect()
        conn.timeout = read_timeout  # request() and getresponse() apply it to the socket
        sent = {
            "Host": target.host_header,
            "User-Agent": _USER_AGENT,
            "Content-Length": str(len(body)),
            "Connection": "close",
            **headers,
        }
        conn.request("POST", target.path, body=body, headers=sent, preload_content=False)
        response = conn.getresponse()
        answer = Answer(status=response.status, reason=response.reason or "")
    except Exception as exc:
        raise _failure(exc, target, read_timeout, timed_out=watchdog.fired) from None
    finally:
        watchdog.cancel()
        conn.close()
    if watchdog.fired:
        raise _timed_out(connect_timeout + read_timeout)
    return answer
