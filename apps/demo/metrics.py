"""A labelled demo metrics source for `make run`: Prometheus' instant-query API answered from
deterministic series, so that the demo launch's Prometheus gates stay alive without a Prometheus.

DEBUG only, and only when DEMO_METRICS is on and PROMETHEUS_URL is not set (portal/settings.py):
the gates then query `<PORTAL_BASE_URL>/demo/prometheus`. A query is answered for the active gate
of the demo launch that asks it, with a value on the side of its threshold the demo loader gave
that gate (apps/demo/loader.py: most pass, a few fail, one source is down), wobbling a little
with time. The demo rollout's criteria, triggers and post-launch checks (and their baselines) are
answered on the healthy side, unless a demo admin armed a breach: then a stage that started since
answers the first rollback trigger's query on its firing side. Any other query is an empty result.
Its answers say "demo source" in Prometheus' `infos`, and every measurement keeps them.
"""

import math
import re
import time
from decimal import Decimal

from apps.demo.loader import demo_fate, demo_value
from apps.gates.models import Gate, Source
from apps.gates.rules import compare
from apps.rollouts.demo import DEMO_SLUG, breach_armed_since
from apps.rollouts.models import CriterionKind, RolloutCriterion, RolloutRun, RunStatus

DEMO_INFO = "demo source: deterministic series of the portal's demo (make run), not a Prometheus"


def answer(query: str, now: float | None = None) -> tuple[int, dict]:
    """(HTTP status, Prometheus JSON) for an instant query of the demo launch."""
    now = now or time.time()
    # The demo loader judges gates in the order of launch.gates.active(): the same order here.
    gates = enumerate(Gate.objects.filter(launch__slug=DEMO_SLUG).active())
    found = [(i, g) for i, g in gates if g.source == Source.PROMETHEUS and g.query == query]
    if not found or _in_stage_under_way(query):
        value = rollout_value(query)
        result = [] if value is None else [{"metric": {"demo": "true"}, "value": [now, str(value)]}]
        return 200, _success(result, now)
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


# --- the demo rollout ----------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*(?:window|stage_start)\s*\}\}")
# A post-launch baseline: the query wrapped in a one-step subquery read `offset` earlier.
_BASELINE = re.compile(r"^last_over_time\(\((?P<query>.*)\)\[\w+:\w+\] offset \w+\)$", re.S)


def rollout_value(query: str) -> Decimal | None:
    """The demo rollout's answer to a query its criteria send (placeholders filled in), or None
    when no criterion sends it. One value satisfies every criterion sharing the query (stage
    criteria and post-launch checks hold, triggers do not), unless a breach is armed."""
    if baseline := _BASELINE.match(query):
        query = baseline.group("query")
    criteria = [c for c in _demo_criteria() if _pattern(c.query).fullmatch(query)]
    if not criteria:
        return None
    trigger = next((c for c in _demo_criteria() if c.kind == CriterionKind.TRIGGER), None)
    if trigger is not None and trigger in criteria and _breaching():
        return _firing(trigger)
    return _healthy(criteria)


def _in_stage_under_way(query: str) -> bool:
    """A stage of a demo run under way sends this query (the full stage's smoke checks send a
    gate's query unchanged): the rollout's answer wins while it does, so a demo run can pass."""
    run = RolloutRun.objects.filter(launch__slug=DEMO_SLUG, status=RunStatus.RUNNING).first()
    stage = run.current_stage() if run else None
    if stage is None or stage.stage_id is None:
        return False
    criteria = RolloutCriterion.objects.filter(stage=stage.stage_id).values_list("query", flat=True)
    return any(_pattern(c).fullmatch(query) for c in criteria)


def _demo_criteria() -> list[RolloutCriterion]:
    criteria = RolloutCriterion.objects.filter(rollout__launch__slug=DEMO_SLUG)
    return list(criteria.order_by("kind", "order", "pk"))


def _pattern(template: str) -> re.Pattern:
    parts = _PLACEHOLDER.split(template)
    return re.compile(r"[0-9a-z.]+".join(re.escape(part) for part in parts))


def _breaching() -> bool:
    """A breach is armed and the stage under way started since."""
    since = breach_armed_since()
    if since is None:
        return False
    run = RolloutRun.objects.filter(launch__slug=DEMO_SLUG, status=RunStatus.RUNNING).first()
    stage = run.current_stage() if run else None
    return bool(stage and stage.started_at and stage.started_at >= since)


def _firing(trigger: RolloutCriterion) -> Decimal:
    """A value on the side where the trigger fires (error rate 7% for "> 5%")."""
    threshold = trigger.threshold
    if trigger.comparator in (">", ">="):
        return (threshold * Decimal("1.4") if threshold > 0 else threshold + 1).quantize(_MILLI)
    if trigger.comparator in ("<", "<="):
        return (threshold * Decimal("0.9") if threshold > 0 else threshold - 1).quantize(_MILLI)
    return threshold if trigger.comparator == "==" else threshold + 1


_MILLI = Decimal("0.001")


def _healthy(criteria: list[RolloutCriterion]) -> Decimal | None:
    """A value inside every bound: between the highest lower bound and the lowest upper bound
    (a trigger bounds from the other side: "> 5" healthy means at most 5)."""
    equal = next((c.threshold for c in criteria if _holds_when(c) == "=="), None)
    if equal is not None:
        return equal
    lows = [c.threshold for c in criteria if _holds_when(c) in (">", ">=")]
    highs = [c.threshold for c in criteria if _holds_when(c) in ("<", "<=")]
    low, high = max(lows, default=None), min(highs, default=None)
    percent = any(c.unit == "%" for c in criteria)
    if low is not None and high is None and percent and low < 100:
        high = Decimal(100)
    if low is not None and high is not None:
        value = (low + high) / 2
    elif high is not None:
        value = high / 2 if high > 0 else high - 1
    elif low is not None:
        value = low * Decimal("1.2") if low > 0 else low + 1
    else:
        value = Decimal(1)
    value = value.quantize(_MILLI)
    # Bounds that contradict each other get no data (unknown), never a value that breaks one.
    return value if all(_healthy_for(c, value) for c in criteria) else None


def _holds_when(criterion: RolloutCriterion) -> str:
    """The comparison a healthy value meets: the criterion's own, a trigger's opposite."""
    if criterion.kind != CriterionKind.TRIGGER:
        return criterion.comparator
    return {">": "<=", ">=": "<", "<": ">=", "<=": ">", "==": "!=", "!=": "=="}[
        criterion.comparator
    ]


def _healthy_for(criterion: RolloutCriterion, value: Decimal) -> bool:
    holds = compare(value, criterion.comparator, criterion.threshold)
    return not holds if criterion.kind == CriterionKind.TRIGGER else holds
