"""What a webhook request carries to prove it came from the portal. Pure: no ORM, no I/O.

The signature is HMAC-SHA256, keyed with the subscription's secret, over the bytes
``<timestamp>.<raw body>`` where ``<timestamp>`` is the ``X-Launch-Portal-Timestamp`` header (Unix
seconds, ASCII digits). Signing the timestamp lets a receiver refuse an old request replayed.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "X-Launch-Portal-Signature"
TIMESTAMP_HEADER = "X-Launch-Portal-Timestamp"
EVENT_HEADER = "X-Launch-Portal-Event"
DELIVERY_HEADER = "X-Launch-Portal-Delivery"


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of ``b"<timestamp>." + body`` with ``secret``."""
    signed = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def headers(*, secret: str, timestamp: int, body: bytes, kind: str, delivery: str) -> dict:
    """Every header a delivery sends besides the transport ones."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret=secret, timestamp=timestamp, body=body),
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_HEADER: kind,
        DELIVERY_HEADER: delivery,
    }


def is_valid(*, secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """The receiver's check (also what the README shows): compare in constant time."""
    if not timestamp.isdigit():
        return False
    expected = signature(secret=secret, timestamp=int(timestamp), body=body)
    return hmac.compare_digest(expected, header)
