"""A labelled demo metrics source for `make run`: Prometheus' instant-query API answered from
deterministic series, so that the demo launch's Prometheus gates stay alive without a Prometheus.

DEBUG only, and only when DEMO_METRICS is on and PROMETHEUS_URL is not set (portal/settings.py):
the gates then query `<PORTAL_BASE_URL>/demo/prometheus`. A query is answered for the active gate
of the demo launch that asks it, with a value on the side of its threshold the demo loader gave
that gate (apps/launches/demo.py: most pass, a few fail, one source is down), wobbling a little
with time; any other query is an empty result. Its answers say "demo source" in Prometheus'
`infos`, and every measurement keeps them.
"""

import math
import time
from decimal import Decimal

from apps.gates.models import Gate, Source
from apps.launches.demo import DEMO_SLUG, demo_fate, demo_value

DEMO_INFO = "demo source: deterministic series of the portal's demo (make run), not a Prometheus"


def answer(query: str, now: float | None = None) -> tuple[int, dict]:
    """(HTTP status, Prometheus JSON) for an instant query of the demo launch."""
    now = now or time.time()
    # The demo loader judges gates in the order of launch.gates.active(): the same order here.
    gates = enumerate(Gate.objects.filter(launch__slug=DEMO_SLUG).active())
    found = [(i, g) for i, g in gates if g.source == Source.PROMETHEUS and g.query == query]
    if not found:
        return 200, _success([], now)
    index, gate = found[0]
    failing, down = demo_fate(index)
    if down:
        return 503, {"status": "error", "errorType": "unavailable",
                     "error": "the demo source is down for this series (on purpose)"}  # fmt: skip
    value = _wobble(demo_value(gate, failing=failing, seed=index), gate, now)
    return 200, _success([{"metric": {"demo": "true"}, "value": [now, str(value)]}], now)


def _success(result: list, now: float) -> dict:
    return {"status": "success", "data": {"resultType": "vector", "result": result},
            "infos": [DEMO_INFO]}  # fmt: skip


def _wobble(value: Decimal, gate: Gate, now: float) -> Decimal:
    """A slow, small wave (±1% of the distance to the threshold) that never crosses it."""
    if gate.comparator in ("==", "!="):
        return value
    room = abs(value - gate.threshold)
    wave = Decimal(str(round(math.sin(now / 600 + gate.pk), 3))) * room / 100
    return (value + wave).quantize(Decimal("0.001"))
