"""The gate history chart: points scaled into the plot area, with value and time axes."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from apps.gates.history import chart

START = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def points(values, status="passing", step=timedelta(hours=1)):
    return [(START + i * step, Decimal(v) if v is not None else None, status)
            for i, v in enumerate(values)]  # fmt: skip


def test_the_value_axis_names_the_range_and_the_middle():
    c = chart(points(["99.5", "99.9", "100"]), Decimal("99.9"), width=600, height=180)
    labels = [label for _, label in c.y_ticks]
    assert labels == ["100", "99.75", "99.5"]
    top, middle, bottom = (y for y, _ in c.y_ticks)
    assert top < middle < bottom <= c.bottom  # higher values are drawn higher


def test_points_stay_right_of_the_value_axis_and_above_the_time_axis():
    c = chart(points(["1", "5", "3", "2", "4"]), Decimal("3"), width=600, height=180)
    assert all(c.left <= x <= c.width and 0 <= y <= c.bottom for x, y, _, _ in c.points)
    assert c.points[0][0] == c.left and c.points[-1][0] == c.width - 6


def test_small_and_large_values_keep_their_digits():
    small = chart(points(["0.001", "0.004"]), Decimal("0.002"))
    assert [label for _, label in small.y_ticks] == ["0.004", "0.0025", "0.001"]
    large = chart(points(["1000", "250000"]), Decimal("5000"))
    assert large.y_ticks[0][1] == "250,000"


def test_the_time_axis_shows_dates_when_the_span_crosses_days():
    same_day = chart(points(["1"] * 6), Decimal("1"))
    assert [label for _, label, _ in same_day.x_ticks] == ["08:00", "11:00", "13:00"]
    days = chart(points(["1"] * 6, step=timedelta(hours=10)), Decimal("1"))
    assert days.x_ticks[0][1] == "Nov 20 08:00" and days.x_ticks[-1][1] == "Nov 22 10:00"
    assert [anchor for _, _, anchor in days.x_ticks] == ["start", "middle", "end"]


def test_a_flat_series_sits_mid_height_and_no_values_no_chart():
    flat = chart(points(["80", "80"]), Decimal("80"), height=180)
    assert [label for _, label in flat.y_ticks] == ["84", "80", "76"]
    assert flat.points[0][1] == flat.y_ticks[1][0]  # drawn on the middle tick
    zero = chart(points(["0", "0"]), Decimal("0"))
    assert [label for _, label in zero.y_ticks] == ["1", "0", "-1"]
    assert chart(points([None, None], status="unknown"), Decimal("1")) is None


def test_the_sparkline_keeps_no_margins():
    spark = chart(points(["1", "2"]), Decimal("1"), width=120, height=28, pad=3, left=3,
                  bottom_margin=0)  # fmt: skip
    assert spark.points[0][0] == 3 and spark.bottom == 28


def test_the_row_sparkline_is_drawn_without_a_template():
    from apps.gates.history import sparkline

    svg = sparkline([(None, Decimal("1"), "passing"), (None, None, "unknown"),
                     (None, Decimal("3"), "failing")], Decimal("2"))  # fmt: skip
    assert svg.startswith('<svg class="spark"') and svg.endswith("</svg>")
    assert 'points="3.0,25.0 117.0,3.0"' in svg  # the unknown reading leaves a gap
    assert 'y1="14.0"' in svg  # the threshold line, halfway between 1 and 3
    assert 'class="dot-failing"' in svg  # the newest reading's status
    assert "no values" in sparkline([(None, None, "unknown")], Decimal("1"))
    assert 'class="dot-unknown"' in sparkline([(None, Decimal(1), "<script>")], Decimal("1"))
