"""Durations as people write them in launch specs: 30s, 5m, 1h, 7d, 2w, -24h, +24h."""

import re
from datetime import timedelta

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_PATTERN = re.compile(r"^([+-]?)(\d{1,7})([wdhms])$")


def parse_duration(text: str, *, signed: bool = False) -> timedelta:
    """Parse '5m' (or '-24h' when signed); raise ValueError with the accepted form."""
    match = _PATTERN.match(text.strip())
    if not match or (match.group(1) and not signed):
        form = "[+-]<n><unit>" if signed else "<n><unit>"
        raise ValueError(f"{text!r} is not a duration ({form}, unit one of w, d, h, m, s)")
    sign, number, unit = match.groups()
    seconds = int(number) * _UNITS[unit]
    return timedelta(seconds=-seconds if sign == "-" else seconds)


def format_duration(value: timedelta, *, signed: bool = False) -> str:
    """The inverse of parse_duration, in the largest unit that divides the value evenly."""
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ("+" if signed and seconds > 0 else "")
    seconds = abs(seconds)
    for unit, size in _UNITS.items():
        if seconds and seconds % size == 0:
            return f"{sign}{seconds // size}{unit}"
    return f"{sign}{seconds}s"


def format_offset(value: timedelta) -> str:
    """An offset from T-0 the way launch plans write it: -24h, 0h, +30m (hours, not days)."""
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ("+" if seconds > 0 else "")
    seconds = abs(seconds)
    if seconds % 3600 == 0:
        return f"{sign}{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{sign}{seconds // 60}m"
    return f"{sign}{seconds}s"
