"""Audit event data as readable pairs instead of a raw dict."""

import json

from django import template

register = template.Library()

_VALUE_LIMIT = 80


@register.filter
def data_pairs(data) -> list[tuple[str, str]]:
    """`{"gate": "x", "to": "failing"}` → [("gate", "x"), ("to", "failing")], values shortened."""
    if not isinstance(data, dict):
        return [("", _short(data))] if data not in (None, "", [], {}) else []
    return [(str(key), _short(value)) for key, value in data.items()]


def _short(value) -> str:
    if isinstance(value, str):
        text = value
    elif value is None:
        text = "—"
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= _VALUE_LIMIT else text[: _VALUE_LIMIT - 1] + "…"
