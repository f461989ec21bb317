"""The overview's gate parts come in two fragments (views.overview_gate_parts): which gates need
attention or block, with the parts drawn from statuses alone, kept under the launch's statuses
(rows.STATUS); and those gates' rows, kept under its readings (rows.GATES) and each row under
what it shows (views.attention_row_shows). A reading that changes no status (a CI report posted
again) draws the shown gates again, not every gate, and shows at once."""

import inspect
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.gates.models import Gate
from apps.gates.services import Reading, record_reading
from apps.signoffs.waivers import request_waiver
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db
OVERVIEW = "/launches/atlas/"


def _read(launch, key: str, value) -> None:
    gate = Gate.objects.get(launch=launch, key=key)
    record_reading(gate=gate, reading=Reading(value=Decimal(value)), actor="test")


def _gate_queries(client) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as ctx:
        page = client.get(OVERVIEW).content.decode()
    return page, [q["sql"] for q in ctx.captured_queries if 'FROM "gates_gate"' in q["sql"]]


def _attention(page: str) -> str:
    return page[page.index("Gates needing attention") :]


def test_a_reading_that_changes_no_status_draws_only_the_shown_gates(client, pm, launch):
    _read(launch, "coverage", 70)
    page, _ = _gate_queries(client)
    assert "70 %" in _attention(page)
    _, warm = _gate_queries(client)
    assert warm == []

    _read(launch, "coverage", 71)  # failing still: no status changes
    page, queries = _gate_queries(client)

    assert "71 %" in _attention(page) and "70 %" not in _attention(page)
    assert queries and all(" IN (" in sql for sql in queries), queries  # the shown gates alone


def test_a_status_change_draws_every_gate_again(client, pm, launch):
    _read(launch, "coverage", 70)
    client.get(OVERVIEW)
    _read(launch, "coverage", 90)  # passing: it leaves the gates needing attention

    page, queries = _gate_queries(client)

    assert "coverage" not in _attention(page)
    assert any(" IN (" not in sql for sql in queries)  # every gate, to choose again


def test_the_kept_parts_are_the_parts_a_fresh_draw_gives(client, pm, launch, spec):
    """Whatever changes, the overview put together from kept fragments and rows equals the one
    drawn from nothing."""
    changes = [
        lambda: _read(launch, "coverage", 70),
        lambda: _read(launch, "coverage", 72),
        lambda: request_waiver(gate=Gate.objects.get(key="coverage"), user=pm, reason="flaky",
                               expires_at=timezone.now() + timedelta(days=1)),
        lambda: import_launch_spec(raw=to_yaml(_renamed(spec)), actor="test"),
    ]  # fmt: skip
    for change in changes:
        client.get(OVERVIEW)  # every part and row kept
        change()
        kept = _as_served(client.get(OVERVIEW).content.decode())
        cache.clear()
        client.force_login(pm)
        fresh = _as_served(client.get(OVERVIEW).content.decode())
        assert kept == fresh


def _renamed(spec: dict) -> dict:
    for gate in spec["gates"]:
        if gate["key"] == "coverage":
            gate["name"] = "Line coverage (renamed)"
    return spec


def _as_served(page: str) -> str:
    """The page without what differs at each request: the CSRF token and the moment served."""
    page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
    return re.sub(r'data-fresh-at="[^"]+"', "", page)


# What the row's template reads that is drawn from other fields.
DERIVED = {"rule_text": {"comparator", "threshold", "unit"}, "get_source_display": {"source"}}


def test_every_value_an_attention_row_reads_is_in_the_key_it_is_kept_under():
    from apps.pages.views import attention_row_shows

    template = Path(__file__).parents[2] / "templates" / "launches" / "overview_attention_row.html"
    read = set(re.findall(r"\bgate\.(\w+)", template.read_text()))
    named = set(re.findall(r"\bgate\.(\w+)", inspect.getsource(attention_row_shows)))
    needed = set().union(*(DERIVED.get(name, {name}) for name in read))
    assert needed - named == set(), "read by the row's template, missing from attention_row_shows"
