"""The launch list's rows are kept (launches.views.launch_rows): each under what it shows of its
launch, the launch's record version and gate statuses, until a gate's evidence runs out. A kept
row must read as a fresh draw after every kind of change, and a change to one launch must draw
its row alone again."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.gates.models import Gate
from apps.gates.services import Reading, record_reading
from apps.launches.models import Launch
from apps.pages.views import launch_rows
from apps.signoffs.models import Assignment, Duty
from apps.specs.services import import_launch_spec
from tests.helpers import listed_launches, to_yaml
from tests.signoffs.conftest import read, sign

pytestmark = pytest.mark.django_db

SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"


def _rows(now) -> list[str]:
    launches = list(Launch.objects.with_counts().with_record_version().order_by("pk"))
    return [str(row) for row in launch_rows(launches, now)]


def _kept_and_fresh(now) -> tuple[list[str], list[str]]:
    kept = _rows(now)
    cache.clear()
    return kept, _rows(now)


def test_a_kept_row_reads_as_a_fresh_draw_after_each_change(client, people, all_passing, spec):
    now = timezone.now()
    first, _ = _kept_and_fresh(now)
    read("coverage", "70")  # a status change
    kept, fresh = _kept_and_fresh(now)
    assert kept == fresh != first
    client.force_login(people["vera"])
    read("coverage", "90")
    _rows(now)  # kept with coverage passing again
    assert sign(client, SIGN_VP, "approve").status_code == 302  # only the record moves
    kept, fresh = _kept_and_fresh(now)
    assert kept == fresh
    assert ">1/2<" in kept[0]
    spec["launch"]["name"] = "Atlas Prime"  # what the row shows of the launch itself
    import_launch_spec(raw=to_yaml(spec), actor="test")
    kept, fresh = _kept_and_fresh(now)
    assert kept == fresh
    assert "Atlas Prime" in kept[0]
    # Days to T-0 move at midnight, before any evidence runs out (a day after it was read).
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=1, microsecond=0)
    kept, fresh = _kept_and_fresh(midnight)
    assert kept == fresh
    days = [listed_launches(row)["atlas"]["Days to T-0"] for row in (fresh[0], _rows(now)[0])]
    assert int(days[0]) == int(days[1]) - 1


def test_a_kept_row_goes_stale_when_a_gates_evidence_runs_out(people, all_passing):
    Gate.objects.filter(key="coverage").update(max_age=timedelta(minutes=1))  # within the day
    cache.clear()
    now = timezone.now()
    gate = Gate.objects.get(key="coverage")
    before = _rows(now)
    after_max_age = gate.last_evidence_at + gate.max_age + timedelta(seconds=1)
    kept, fresh = _kept_and_fresh(after_max_age)  # no write in between
    assert kept == fresh != before
    assert listed_launches(before[0])["atlas"]["Blockers"] == "2"  # the two sign-offs
    assert int(listed_launches(kept[0])["atlas"]["Blockers"]) > 2  # and gates, unknown now


def test_a_write_to_one_launch_draws_its_row_alone(client, people, all_passing, spec):
    spec["launch"]["slug"] = "zephyr"
    zephyr = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    Assignment.objects.create(launch=zephyr, user=people["pat"], duty=Duty.PROGRAM_MANAGER)
    client.force_login(people["pat"])
    client.get("/launches/")

    atlas = Gate.objects.get(launch__slug="atlas", key="coverage")
    record_reading(gate=atlas, reading=Reading(value=Decimal(70)), actor="test")

    drawn = client.get("/launches/").templates
    assert [t.name for t in drawn].count("launches/list_row.html") == 1
    drawn = client.get("/launches/").templates
    assert [t.name for t in drawn].count("launches/list_row.html") == 0
