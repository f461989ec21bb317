"""The converters of a launch spec's values: each turns a YAML value into a typed value, or raises
ValueError with the message that the spec's error list shows. `launch_slug` is also the admin's
check of a new launch's slug (apps/launches/admin.py)."""

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from apps.launches.durations import parse_duration

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,79}$")
_CONTROL = re.compile(r"^[A-Z]{1,3}\d{1,2}(\.\d{1,2})?$")


def text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {kind_of(value)}")
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def optional_text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected text, got {kind_of(value)}")
    return value.strip()


def slug(value: Any) -> str:
    value = text(value)
    if not _SLUG.match(value):
        raise ValueError(f"{value!r} is not a key (lowercase letters, digits and -)")
    return value


# Slugs a launch may not take, and why: a launch's slug names its audit chain and its URLs.
RESERVED_SLUGS = {
    "portal": "the audit chain of events without a launch",
    "import": "the page that imports a new launch, /launches/import/",
}


def launch_slug(value: Any) -> str:
    value = slug(value)
    if value in RESERVED_SLUGS:
        raise ValueError(f"{value!r} is reserved ({RESERVED_SLUGS[value]})")
    return value


def boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {kind_of(value)}")
    return value


def whole(value: Any, minimum: int = 1, maximum: int = 1000) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected a whole number, got {kind_of(value)}")
    if not minimum <= value <= maximum:
        raise ValueError(f"{value} is not between {minimum} and {maximum}")
    return value


def number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a number, got {kind_of(value)}")
    try:
        result = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not result.is_finite() or abs(result) >= Decimal(10) ** 18:
        raise ValueError(f"{value!r} is not a finite number below 10^18")
    if result != result.quantize(Decimal("0.000001")):
        raise ValueError(f"{value!r} has more than 6 decimal places")
    return result


def duration(value: Any):
    return parse_duration(text(value))


def offset(value: Any):
    return parse_duration(text(value), signed=True)


def aware_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 date and time") from None
    if not isinstance(value, datetime):
        raise ValueError(f"expected a date and time, got {kind_of(value)}")
    if value.tzinfo is None:
        raise ValueError(f"{value.isoformat()} has no time zone (add Z or +00:00)")
    return value


def a_date(value: Any) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO-8601 date") from None
    if isinstance(value, datetime) or not isinstance(value, date):
        raise ValueError(f"expected a date, got {kind_of(value)}")
    return value


def one_of(choices: list[str]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return convert


def slug_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {kind_of(value)}")
    return [slug(item) for item in value]


def control_list(value: Any) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"expected a list, got {kind_of(value)}")
    for item in value:
        if not isinstance(item, str) or not _CONTROL.match(item):
            raise ValueError(f"{item!r} is not a criterion id such as CC8.1 or A1.2")
    return list(value)


def kind_of(value: Any) -> str:
    if value is None:
        return "nothing"
    return {dict: "a mapping", list: "a list", bool: "a boolean", str: "text"}.get(
        type(value), type(value).__name__
    )


def days(value: Any) -> int:
    return whole(value, minimum=1, maximum=3650)
