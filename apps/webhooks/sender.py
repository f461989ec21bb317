"""POST one webhook body through the portal's outbound client (portal/outbound.py).

The URL is vetted against ``SOURCE_ALLOWED_HOSTS`` and pinned to the address that was checked,
TLS verifies the original host name, no redirect is followed (a 3xx is the answer), and the whole
exchange ends within ``connect_timeout + read_timeout`` seconds.
"""

from collections.abc import Iterable

from portal import outbound

__all__ = ["post"]

USER_AGENT = "launch-portal-webhooks/1"


def post(
    url: str,
    *,
    body: bytes,
    headers: dict[str, str],
    allowed_hosts: Iterable[str],
    connect_timeout: float = 3.0,
    read_timeout: float = 5.0,
) -> outbound.Response:
    """POST ``body`` to ``url`` and return the answer (its body is not read).

    Raises ``UnsafeURL`` when the policy refuses the URL, ``OutboundError`` (``SourceError``) on
    any failure to get an answer, never anything else.
    """
    return outbound.post(
        url,
        body=body,
        headers={"User-Agent": USER_AGENT, **headers},
        allowed_hosts=allowed_hosts,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
