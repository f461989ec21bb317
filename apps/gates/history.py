"""Bounded histories of gates for sparklines and charts: never every measurement."""

import functools
from dataclasses import dataclass
from decimal import Decimal

from django.utils.safestring import mark_safe

from apps.gates.models import NEWEST_FIRST, SPARK_POINTS, Gate, Measurement

CHART_POINTS = 200


def recent_values(gate_ids: list[int], *, per_gate: int = SPARK_POINTS) -> dict[int, list]:
    """The newest `per_gate` (time, value, status) of each gate, oldest first, read from its
    measurements: one query a gate through the (gate, -evaluated_at) index (the chart of one
    gate). A row's sparkline draws the points the gate keeps instead (kept_points)."""
    series = {}
    for gate_id in gate_ids:
        newest = Measurement.objects.filter(gate_id=gate_id).order_by(*NEWEST_FIRST)[:per_gate]
        points = list(newest.values_list("evaluated_at", "value", "status"))
        if points:
            series[gate_id] = list(reversed(points))
    return series


def kept_points(gate: Gate) -> list:
    """What a gate's row draws: the (None, value, status) of the points it keeps
    (Gate.spark_points, at most SPARK_POINTS, values as floats), oldest first."""
    return [(None, value, status) for value, status in gate.spark_points or []]


@dataclass
class Chart:
    width: int
    height: int
    path: str
    points: list[tuple[float, float, str, str]]  # x, y, status, title
    threshold_y: float | None
    low: Decimal
    high: Decimal
    left: int  # the plot area starts here: the value axis is drawn to its left
    bottom: float  # the time axis
    y_ticks: list[tuple[float, str]]  # y, value label
    x_ticks: list[tuple[float, str, str]]  # x, time label, text-anchor

    # Where the template draws the axes' ticks and labels (a Django template does no sums).
    @property
    def tick_start(self) -> int:
        return self.left - 4

    @property
    def label_x(self) -> int:
        return self.left - 6

    @property
    def tick_end(self) -> float:
        return self.bottom + 4

    @property
    def threshold_label_x(self) -> int:
        return self.left + 4


def value_range(values: list, threshold):
    """The lowest and highest of the values and the threshold (Decimals, or floats); a flat
    series gets a little room either side, so that it is drawn mid-height."""
    low, high = min(*values, threshold), max(*values, threshold)
    if low == high:
        number = type(low)
        margin = abs(low) * number("0.05") or number(1)
        low, high = low - margin, high + margin
    return low, high


def chart(points: list, threshold: Decimal, *, width: int = 600, height: int = 180,
          pad: int = 6, left: int = 52, bottom_margin: int = 20) -> Chart | None:  # fmt: skip
    """Scale (time, value, status) points into an SVG polyline with axes and the threshold."""
    values = [v for _, v, _ in points if v is not None]
    if not values:
        return None
    low, high = value_range(values, threshold)
    span = high - low
    bottom = height - bottom_margin
    step = (width - left - pad) / max(len(points) - 1, 1)

    def y_of(value: Decimal) -> float:
        return round(bottom - pad - float((value - low) / span) * (bottom - 2 * pad), 1)

    scaled = []
    for index, (at, value, status) in enumerate(points):
        x = round(left + index * step, 1)
        y = y_of(value) if value is not None else bottom - pad
        scaled.append((x, y, status, f"{at:%Y-%m-%d %H:%M} {value if value is not None else '—'}"))
    path = " ".join(f"{x},{y}" for x, y, status, _ in scaled if status != "unknown")
    y_ticks = [(y_of(v), _number(v)) for v in dict.fromkeys((high, low + span / 2, low))]
    x_ticks = _time_ticks(points, scaled)
    return Chart(width, height, path, scaled, y_of(threshold), low, high, left, bottom,
                 y_ticks, x_ticks)  # fmt: skip


SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 120, 28, 3
_STATUSES = frozenset(("passing", "failing", "unknown", "pending", "waived"))


@functools.cache
def _spark_xs(count: int) -> tuple[str, ...]:
    step = (SPARK_WIDTH - 2 * SPARK_PAD) / max(count - 1, 1)
    return tuple(f"{SPARK_PAD + index * step:.1f}" for index in range(count))


def sparkline(points: list, threshold: Decimal) -> str:
    """A row's sparkline as SVG markup (built here, not by a template: the gates page draws one
    per gate). `points` are (time, value, status), oldest first; only values and statuses are
    read, so the times may be None, and the values may be floats (kept_points)."""
    values = [v for _, v, _ in points if v is not None]
    if not values:
        return mark_safe('<span class="muted small">no values</span>')  # noqa: S308 - constant
    low, high = value_range([float(v) for v in values], float(threshold))
    w, h, pad = SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD
    scale = (h - 2 * pad) / (high - low)
    base = h - pad
    # Floats from here, and each row's x positions made once: 2,400 points a page.
    xs = _spark_xs(len(points))
    ys = [f"{base if v is None else base - (float(v) - low) * scale:.1f}" for _, v, _ in points]
    path = " ".join(f"{x},{y}" for x, y, (_, _, status) in zip(xs, ys, points, strict=True)
                    if status != "unknown")  # fmt: skip
    last_status = points[-1][2] if points[-1][2] in _STATUSES else "unknown"
    last_x = xs[-1]
    line = f"{base - (float(threshold) - low) * scale:.1f}"
    # Every interpolated value is a number or one of the fixed statuses: nothing to escape.
    return mark_safe(  # noqa: S308
        f'<svg class="spark" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="recent values" xmlns="http://www.w3.org/2000/svg">'
        f'<line x1="0" x2="{w}" y1="{line}" y2="{line}" stroke="#a15c07" '
        f'stroke-dasharray="3 2" stroke-width="1"/>'
        f'<polyline points="{path}" fill="none" stroke="#2457c5" stroke-width="1.5"/>'
        f'<circle cx="{last_x}" cy="{ys[-1]}" r="2.5" class="dot-{last_status}"/></svg>'
    )


def _number(value: Decimal) -> str:
    """A tick label: four significant digits (0.001, 99.75), thousands grouped."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{float(value):.4g}"


def _time_ticks(points: list, scaled: list) -> list[tuple[float, str, str]]:
    """The first, middle and last evaluation times; dates only when the span crosses days."""
    if not points:
        return []
    first, last = points[0][0], points[-1][0]
    fmt = "%H:%M" if first.date() == last.date() else "%b %d %H:%M"
    picks = [(0, "start"), (len(points) // 2, "middle"), (len(points) - 1, "end")]
    ticks, seen = [], set()
    for index, anchor in picks:
        if index in seen or (anchor == "middle" and len(points) < 5):
            continue
        seen.add(index)
        ticks.append((scaled[index][0], f"{points[index][0]:{fmt}}", anchor))
    return ticks
