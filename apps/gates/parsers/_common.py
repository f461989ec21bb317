"""Shared helpers for the report parsers: safe XML/JSON loading, typed access, Decimal maths.

Every helper raises ``ReportError`` (never ``KeyError``/``TypeError``/``ValueError``) so that a
malformed, truncated or hostile upload always ends in a message the uploader can act on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

UTF8_BOM = b"\xef\xbb\xbf"
HUNDRED = Decimal(100)
CENT = Decimal("0.01")
MAX_NUMBER = Decimal(10) ** 18


class ReportError(Exception):
    """A malformed, truncated, hostile or unsupported report; the message is for the uploader."""


@dataclass(frozen=True)
class ParsedReport:
    """Named metrics read from one report. ``None`` means "this report cannot tell"."""

    format: str
    metrics: dict[str, Decimal | None]
    notes: tuple[str, ...] = ()


# --- loading -------------------------------------------------------------------------------


def load_xml(data: bytes, fmt: str) -> Element:
    """Parse XML with defusedxml's defaults and return the root element.

    The defaults allow a DOCTYPE (gcovr and istanbul write one) but refuse entity declarations
    (billion laughs, quadratic blowup) and external references; no DTD is ever fetched.
    """
    try:
        return SafeET.fromstring(data)
    except XML_ERRORS as exc:
        raise xml_error(exc, fmt) from None


#: Everything the (defused) expat parser raises on a bad document.
XML_ERRORS = (ParseError, LookupError, RecursionError, ValueError)


def xml_error(exc: BaseException, fmt: str) -> ReportError:
    """The uploader's message for an exception in ``XML_ERRORS``."""
    if isinstance(exc, defusedxml.EntitiesForbidden):
        return ReportError(f"{fmt}: entity declarations are not allowed (entity {exc.name!r})")
    if isinstance(exc, defusedxml.ExternalReferenceForbidden):
        return ReportError(f"{fmt}: external references are not allowed ({exc.sysid!r})")
    if isinstance(exc, defusedxml.DefusedXmlException):  # DTDForbidden, NotSupportedError
        return ReportError(f"{fmt}: XML construct not allowed: {exc}")
    if isinstance(exc, ParseError | LookupError):  # LookupError: unknown declared encoding
        return ReportError(f"{fmt}: XML is not well-formed: {exc}")
    return ReportError(f"{fmt}: XML could not be read: {exc}")


def local_tag(element: Element) -> str:
    """The tag without any ``{namespace}`` prefix."""
    return element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity, which are not JSON and cannot be a metric.
    raise ReportError(f"{name} is not valid JSON")


def load_json(data: bytes, fmt: str) -> Any:
    """Decode strict UTF-8 JSON; floats become ``Decimal`` so that figures keep their digits."""
    if data.startswith(UTF8_BOM):
        raise ReportError(
            f"{fmt}: the file starts with a UTF-8 byte order mark (BOM); save it without one"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportError(f"{fmt}: not UTF-8 text: {exc}") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
    except ReportError as exc:
        raise ReportError(f"{fmt}: not JSON: {exc}") from None
    except json.JSONDecodeError as exc:
        raise ReportError(f"{fmt}: not JSON: {exc}") from None
    except RecursionError:
        raise ReportError(f"{fmt}: not JSON: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer longer than int max-str-digits
        raise ReportError(f"{fmt}: not JSON: {exc}") from None


# --- typed access to decoded JSON ----------------------------------------------------------


def as_dict(value: Any, fmt: str, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ReportError(f"{fmt}: {what} must be a JSON object, not {json_type(value)}")
    return value


def as_list(value: Any, fmt: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ReportError(f"{fmt}: {what} must be a JSON array, not {json_type(value)}")
    return value


def as_count(value: Any, fmt: str, what: str) -> int:
    """A non-negative integer count of a sane size (JSON ``true`` is not a count)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ReportError(f"{fmt}: {what} must be a non-negative integer, got {short(value)}")
    if value >= MAX_NUMBER:
        raise ReportError(f"{fmt}: {what} is out of range, got {short(value)}")
    return value


def as_number(value: Any, fmt: str, what: str) -> Decimal:
    """A finite JSON number of a sane magnitude as ``Decimal``."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ReportError(f"{fmt}: {what} must be a number, got {short(value)}")
    number = Decimal(value)
    # Beyond this no report figure is plausible, and Decimal arithmetic would lose precision.
    if not number.is_finite() or abs(number) >= MAX_NUMBER:
        raise ReportError(f"{fmt}: {what} is out of range, got {short(value)}")
    return number


def optional_list(mapping: Mapping[str, Any], key: str, fmt: str, what: str) -> list[Any]:
    """``mapping[key]`` as a list, where a missing key or ``null`` means an empty list."""
    value = mapping.get(key)
    return [] if value is None else as_list(value, fmt, what)


def json_type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def short(value: Any, limit: int = 60) -> str:
    """A bounded ``repr`` for messages (a hostile value may be huge)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        return "a very large integer"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- numbers -------------------------------------------------------------------------------


def parse_int(text: str | None, fmt: str, what: str) -> int:
    """A non-negative decimal integer from XML/text; refuses junk and absurdly long digits."""
    if text is None or not re.fullmatch(r"\s*\d{1,30}\s*", text):
        raise ReportError(f"{fmt}: {what} must be a non-negative integer, got {short(text)}")
    return int(text)


def parse_decimal(text: str, fmt: str, what: str) -> Decimal:
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ReportError(f"{fmt}: {what} must be a number, got {short(text)}") from None
    if not number.is_finite():
        raise ReportError(f"{fmt}: {what} must be a finite number, got {short(text)}")
    return number


def count(value: int) -> Decimal:
    return Decimal(value)


def percent(part: int, whole: int) -> Decimal | None:
    """``part / whole × 100`` quantized to 0.01 (half-even), ``None`` when ``whole`` is 0.

    Rounding never reaches a bound the real ratio does not: a ratio below 100 % is shown as at
    most 99.99 and a ratio above 0 % as at least 0.01, so "100 % passed" or "0 % failed" gates
    cannot be met by rounding alone.
    """
    if whole <= 0:
        return None
    value = (Decimal(part) * HUNDRED / Decimal(whole)).quantize(CENT, rounding=ROUND_HALF_EVEN)
    if value == HUNDRED and part != whole:
        return HUNDRED - CENT
    if value == 0 and part != 0:
        return CENT
    return value


def rate_percent(rate: Decimal) -> Decimal:
    """A 0..1 rate as a percentage, with the same rounding guarantees as ``percent``."""
    value = (rate * HUNDRED).quantize(CENT, rounding=ROUND_HALF_EVEN)
    if value == HUNDRED and rate != 1:
        return HUNDRED - CENT
    if value == 0 and rate != 0:
        return CENT
    return value


def ceil_cents(value: Decimal) -> Decimal:
    """Quantize a "lower is better" figure (latency) upwards, so rounding never helps a gate."""
    return value.quantize(CENT, rounding=ROUND_CEILING)


def names_note(prefix: str, names: Iterable[str], limit: int = 10) -> str:
    """``"prefix: a, b, c"`` with at most ``limit`` names, so notes stay readable."""
    items = list(names)
    shown = ", ".join(items[:limit])
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return f"{prefix}: {shown}{more}"
