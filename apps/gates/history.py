"""Bounded histories of gates for sparklines and charts: never every measurement."""

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from apps.gates.models import Measurement

SPARK_POINTS = 20
CHART_POINTS = 200


def recent_values(gate_ids: list[int], *, per_gate: int = SPARK_POINTS) -> dict[int, list]:
    """The newest `per_gate` (time, value, status) of each gate, oldest first: one query."""
    ranked = (
        Measurement.objects.filter(gate_id__in=gate_ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=F("gate_id"),
                order_by=[F("evaluated_at").desc(), F("id").desc()],
            )
        )  # fmt: skip
        .filter(rank__lte=per_gate)
        .values_list("gate_id", "evaluated_at", "value", "status")
    )
    series: dict[int, list] = defaultdict(list)
    for gate_id, at, value, status in ranked:
        series[gate_id].append((at, value, status))
    return {gate_id: points[::-1] for gate_id, points in series.items()}


@dataclass
class Chart:
    width: int
    height: int
    path: str
    points: list[tuple[float, float, str, str]]  # x, y, status, title
    threshold_y: float | None
    low: Decimal
    high: Decimal


def chart(points: list, threshold: Decimal, *, width: int = 600, height: int = 160,
          pad: int = 6) -> Chart | None:  # fmt: skip
    """Scale (time, value, status) points into an SVG polyline with the threshold line."""
    valued = [(at, v, s) for at, v, s in points if v is not None]
    if not valued:
        return None
    values = [v for _, v, _ in valued] + [threshold]
    low, high = min(values), max(values)
    span = (high - low) or Decimal(1)
    step = (width - 2 * pad) / max(len(points) - 1, 1)

    def y_of(value: Decimal) -> float:
        return round(height - pad - float((value - low) / span) * (height - 2 * pad), 1)

    scaled = []
    for index, (at, value, status) in enumerate(points):
        x = round(pad + index * step, 1)
        y = y_of(value) if value is not None else height - pad
        scaled.append((x, y, status, f"{at:%Y-%m-%d %H:%M} {value if value is not None else '—'}"))
    path = " ".join(f"{x},{y}" for x, y, status, _ in scaled if status != "unknown")
    return Chart(width, height, path, scaled, y_of(threshold), low, high)
