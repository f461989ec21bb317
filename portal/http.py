"""What a request says about its client, read one way for the whole portal."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address as our own proxies vouch for it; None when it cannot be told.

    Behind TRUSTED_PROXY_COUNT proxies of ours, each appends to X-Forwarded-For, so the client is
    the Nth entry from the right; whatever stands left of it the client wrote itself. With no
    trusted proxy the header is the client's own claim and is ignored: the connection's address
    counts. Sign-ins, their rate limits, signatures and /metrics all read the address here.
    """
    if request is None:
        return None
    count = settings.ALLAUTH_TRUSTED_PROXY_COUNT
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if count > 0 and hops:
        address = hops[-count] if count <= len(hops) else None
    else:
        address = request.META.get("REMOTE_ADDR")
    return _valid(address)


def _valid(address: str | None) -> str | None:
    # A forwarded entry is text a proxy copied: keep it only if it is an address.
    try:
        return str(ipaddress.ip_address(address or ""))
    except ValueError:
        return None
