"""The launch list judges every launch's gates from the cache (readiness.cached_gate_blockers,
kept per launch version in apps/gates/rows.py): the same blockers as readiness() reads from the
database, at once after a reading or a waiver, and when only time passes (evidence going stale,
a waiver ending), without a write to bump anything."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.gates.models import Gate, Waiver
from apps.gates.services import Reading, record_reading, update_covering_waiver
from apps.signoffs.readiness import cached_gate_blockers, readiness
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


@pytest.fixture
def zephyr(spec):
    spec["launch"]["slug"] = "zephyr"
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _read(launch, key: str, value: int) -> Gate:
    gate = Gate.objects.get(launch=launch, key=key)
    record_reading(gate=gate, reading=Reading(value=Decimal(value)), actor="test")
    return gate


def _cached(launch, now) -> list[tuple[str, str]]:
    return [(b.key, b.status) for b in cached_gate_blockers([launch.pk], now)[launch.pk]]


def _fresh(launch, now) -> list[tuple[str, str]]:
    return [(b.key, b.status) for b in readiness(launch, now).blockers if b.kind == "gate"]


def test_the_cached_blockers_are_readinesss_and_come_from_the_cache(launch, zephyr):
    _read(launch, "coverage", 80)
    now = timezone.now()
    first = cached_gate_blockers([launch.pk, zephyr.pk], now)

    assert _cached(launch, now) == _fresh(launch, now) == [
        ("availability", "pending"), ("coverage", "failing")]  # fmt: skip
    assert [(b.key, b.status) for b in first[zephyr.pk]] == _fresh(zephyr, now)
    with CaptureQueriesContext(connection) as queries:
        again = cached_gate_blockers([launch.pk, zephyr.pk], now)
    assert again == first
    assert not any("gates_gate" in q["sql"] for q in queries.captured_queries)


def test_a_reading_shows_at_once(launch):
    _read(launch, "coverage", 80)
    assert ("coverage", "failing") in _cached(launch, timezone.now())

    _read(launch, "coverage", 90)

    now = timezone.now()
    assert ("coverage", "failing") not in _cached(launch, now)
    assert _cached(launch, now) == _fresh(launch, now)


def test_evidence_that_goes_stale_blocks_without_any_write(launch):
    _read(launch, "coverage", 90)  # passing on fresh evidence: readiness does not even load it
    now = timezone.now()
    assert "coverage" not in dict(_cached(launch, now))

    later = now + timedelta(days=1, seconds=1)  # past the gate's max_age (1 day)

    assert dict(_cached(launch, later))["coverage"] == "unknown"
    assert _cached(launch, later) == _fresh(launch, later)


def test_a_waiver_that_ends_blocks_without_any_write(launch):
    gate = _read(launch, "coverage", 80)
    now = timezone.now()
    Waiver.objects.create(gate=gate, reason="fix lands Monday", requested_by_name="sam",
                          granted_by_name="vera", granted_at=now,
                          expires_at=now + timedelta(hours=6))  # fmt: skip
    update_covering_waiver(gate_id=gate.pk)  # as every waiver write does: the version moves
    assert "coverage" not in dict(_cached(launch, now))

    later = now + timedelta(hours=6, seconds=1)

    assert dict(_cached(launch, later))["coverage"] == "failing"
    assert _cached(launch, later) == _fresh(launch, later)


def test_the_list_page_asks_the_same_queries_for_one_launch_or_three(client, spec, launch):
    from django.contrib.auth import get_user_model

    from apps.signoffs.models import Assignment, Duty

    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(user)
    client.get("/launches/")
    with CaptureQueriesContext(connection) as one:
        client.get("/launches/")
    for slug in ("zephyr", "borealis"):
        spec["launch"]["slug"] = slug
        other = import_launch_spec(raw=to_yaml(spec), actor="test").launch
        Assignment.objects.create(launch=other, user=user, duty=Duty.PROGRAM_MANAGER)
    client.get("/launches/")
    with CaptureQueriesContext(connection) as three:
        page = client.get("/launches/")

    assert len(page.context["launches"]) == 3
    assert len(three) == len(one)
