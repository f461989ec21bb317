"""Sources: small adapters, each with one verb that reads a value from the outside world.

A source returns a ``Reading`` or raises ``SourceError``; it never lets another exception escape,
so a gate whose source fails reads ``unknown`` with the reason, never ``passing``.
"""

from dataclasses import dataclass
from decimal import Decimal

# One class: a failed request (portal.outbound) is a source that could not give a value.
# ``reason`` is shown as the gate's reason; ``detail`` is kept as evidence.
from portal.outbound import OutboundError as SourceError

__all__ = ["Reading", "SourceError"]


@dataclass(frozen=True)
class Reading:
    """A value read from a source, with its evidence.

    ``detail`` holds what an auditor needs to see how the value was read: the URL (without
    credentials), the query, an excerpt of the response (at most 4 KB) and ``elapsed_ms``.
    """

    value: Decimal
    detail: dict
