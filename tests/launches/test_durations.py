from datetime import timedelta

import pytest

from apps.launches.durations import format_duration, format_offset, parse_duration


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_durations_parse_and_format_back(text, value):
    assert parse_duration(text) == value
    assert format_duration(value) == text


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("-24h", timedelta(hours=-24)),
        ("+24h", timedelta(hours=24)),
        ("0h", timedelta(0)),
    ],
)
def test_offsets_carry_a_sign(text, value):
    assert parse_duration(text, signed=True) == value


def test_format_picks_the_largest_whole_unit():
    assert format_duration(timedelta(hours=48)) == "2d"
    assert format_duration(timedelta(minutes=90)) == "90m"
    assert format_duration(timedelta(hours=-12), signed=True) == "-12h"
    assert format_duration(timedelta(hours=24), signed=True) == "+1d"


@pytest.mark.parametrize("text", ["", "5", "h", "1.5h", "5 minutes", "-5m", "10y", "99999999s"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_offsets_format_in_hours_as_launch_plans_write_them():
    assert [format_offset(timedelta(hours=h)) for h in (-24, -1, 0, 24)] == [
        "-24h",
        "-1h",
        "0h",
        "+24h",
    ]
    assert format_offset(timedelta(minutes=-30)) == "-30m"
