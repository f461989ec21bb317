"""The readiness forecast: burn-ups of histories with known answers (pure), then the same read
from the database and shown on the overview and the timeline."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.gates.models import Gate, Waiver
from apps.gates.services import Reading, record_reading
from apps.signoffs.forecast import History, chart, forecast, load_history

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
GATES = list(range(1, 11))


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


def at(n: int) -> datetime:
    return datetime.combine(day(n), datetime.min.time(), UTC) + timedelta(hours=9)


def history(changes, *, gates=GATES, roles=(), waivers=(), signoffs=()) -> History:
    return History(list(gates), list(roles), list(changes), list(waivers), list(signoffs))


def test_linear_progress_projects_the_hand_computed_date():
    # One gate a day passes, days -4..0: done 1, 2, 3, 4, 5 of 10; 1 a day, 5 left: day +5.
    fc = forecast(history([(g, day(g - 5), "passing") for g in range(1, 6)]), now=NOW, t0=day(3))
    assert [d.done for d in fc.days] == [1, 2, 3, 4, 5]
    assert fc.rate == 1 and fc.window == 4
    assert fc.ready_on == day(5) and fc.earliest == fc.latest == day(5)
    assert fc.versus_t0(fc.ready_on) == "T+2d"
    assert fc.sentence() == (
        "At the current rate (+1 a day over the last 4 days), ready around "
        f"{day(5):%a %Y-%m-%d} (T+2d); 5 blocking gates left (5 gates with no evidence yet)."
    )


def test_a_stall_gives_no_date():
    fc = forecast(history([(1, day(-6), "passing"), (2, day(-6), "failing")]), now=NOW, t0=day(3))
    assert fc.rate == 0 and fc.ready_on is None
    assert fc.sentence().startswith("Not ready at the current rate (no net progress")
    assert "9 blocking gates left (8 gates with no evidence yet)" in fc.sentence()


def test_a_regression_is_a_negative_rate_and_no_date():
    # Three gates pass on day -4; one a day fails again from day -2: done 3, 3, 2, 1, 0.
    changes = [(g, day(-4), "passing") for g in (1, 2, 3)]
    changes += [(1, day(-2), "failing"), (2, day(-1), "failing"), (3, day(0), "unknown")]
    fc = forecast(history(changes), now=NOW, t0=day(3))
    assert [d.done for d in fc.days] == [3, 3, 2, 1, 0]
    assert fc.rate == -0.75 and fc.ready_on is None
    assert "going backwards" in fc.sentence()
    assert fc.today.gates == {"passing": 0, "waived": 0, "failing": 2, "unknown": 1, "pending": 7}


def test_gates_with_no_evidence_count_as_not_done():
    fc = forecast(history([]), now=NOW, t0=day(3))
    assert fc.today.gates["pending"] == 10 and fc.left == 10
    assert fc.rate is None and fc.sentence().startswith("No trend yet")


def test_waivers_and_signoffs_count_and_an_invalidated_approval_stops_counting():
    changes = [(1, day(-3), "failing")]
    waivers = [(1, at(-2), at(5))]
    signoffs = [(7, at(-1), True, None), (8, at(-3), True, at(0) - timedelta(hours=1))]
    fc = forecast(history(changes, gates=[1, 2], roles=[7, 8], waivers=waivers,
                          signoffs=signoffs), now=NOW, t0=day(3))  # fmt: skip
    assert [(d.gates["waived"], d.approved) for d in fc.days] == [(0, 1), (1, 1), (1, 2), (1, 1)]
    assert fc.left == 2 and fc.gates_left == 1 and fc.today.awaited == 1
    assert "1 blocking gate and 1 sign-off left" in fc.sentence()


def test_the_band_comes_from_the_spread_of_daily_rates():
    # Daily changes 0, 2, 0, 2 (done 0, 0, 2, 2, 4): rate 1; 10th percentile 0, 90th 2.
    changes = [(g, day(-2), "passing") for g in (1, 2)] + [(g, day(0), "passing") for g in (3, 4)]
    changes += [(9, day(-4), "failing")]
    fc = forecast(history(changes), now=NOW, t0=day(10))
    assert [d.done for d in fc.days] == [0, 0, 2, 2, 4]
    assert fc.rate == 1 and fc.ready_on == day(6)
    assert fc.earliest == day(3) and fc.latest is None
    assert "at the earliest" in fc.sentence() and "(at the slowest rate, never)" in fc.sentence()


def test_ready_now_says_so_and_the_chart_draws_every_day():
    fc = forecast(history([(1, day(-1), "passing")], gates=[1]), now=NOW, t0=day(3))
    assert fc.left == 0 and fc.sentence().startswith("Ready now")
    drawn = chart(fc)
    assert len(drawn.columns) == 2 and drawn.t0_x is not None


def _measure(key: str, value, days_ago: float):
    gate = Gate.objects.get(key=key)
    when = timezone.now() - timedelta(days=days_ago)
    record_reading(gate=gate, reading=Reading(value=Decimal(value)), actor="test", at=when)


@pytest.mark.django_db
def test_the_history_is_read_per_day_in_two_queries(launch, django_assert_num_queries):
    _measure("coverage", 70, 3)
    _measure("coverage", 90, 2)  # passing two days ago...
    _measure("coverage", 95, 2)
    _measure("coverage", 60, 1)  # ...failing since yesterday
    now = timezone.now()
    gates = list(Gate.objects.filter(launch=launch))
    for gate in gates:
        gate.status = gate.current_status(now)[0]
    roles = list(launch.roles.all())
    with django_assert_num_queries(2):  # status changes by day; waivers UNION sign-offs
        found = load_history(launch, now, gates=gates, roles=roles)
    coverage = Gate.objects.get(key="coverage").pk
    assert sorted((d, s) for g, d, s in found.changes if g == coverage) == [
        ((now - timedelta(days=n)).date(), s) for n, s in ((3, "failing"), (2, "passing"),
                                                            (1, "failing"))]  # fmt: skip
    assert len(found.gates) == 2 and len(found.roles) == 2  # blocking gates, required roles
    fc = forecast(found, now=now, t0=launch.target_t0.date())
    assert [d.gates["passing"] for d in fc.days] == [0, 1, 0, 0]
    assert fc.today.gates["pending"] == 1  # availability: never measured


@pytest.mark.django_db
def test_an_approved_waiver_is_read_with_its_end(launch):
    gate = Gate.objects.get(key="coverage")
    now = timezone.now()
    Waiver.objects.create(gate=gate, reason="r", requested_at=now - timedelta(days=2),
                          granted_at=now - timedelta(days=1), expires_at=now + timedelta(days=3),
                          revoked_at=now + timedelta(days=1))  # fmt: skip
    found = load_history(launch, now)
    assert found.waivers == [(gate.pk, now - timedelta(days=1), now + timedelta(days=1))]


@pytest.mark.django_db
def test_the_overview_and_the_timeline_show_the_forecast(client, pm, launch):
    _measure("coverage", 90, 0.5)  # fresh: coverage's max_age is a day
    for url in ("/launches/atlas/", "/launches/atlas/timeline/"):
        page = client.get(url).content.decode()
        assert "Readiness forecast" in page and '<svg class="burnup"' in page, url
        assert "1 blocking gate and 2 sign-offs left" in page, url


@pytest.mark.django_db
def test_the_timelines_forecast_follows_a_reading_and_the_clock(client, pm, launch):
    """The forecast is kept in the cache (views.forecast_part): a status change shows at once,
    and so does evidence going stale, with no write at all."""
    from apps.pages.views import forecast_part
    from apps.signoffs.readiness import readiness

    url = "/launches/atlas/timeline/"
    _measure("coverage", 90, 0.99)  # passing, on evidence nearly a day old
    assert "1 blocking gate and" in client.get(url).content.decode()

    now = timezone.now()
    signed = readiness(launch, now, gates=[], roles=[])
    assert "1 blocking gate and" in forecast_part(launch, now, signed)
    later = now + timedelta(minutes=20)  # past coverage's max_age (1 day): unknown
    assert "2 blocking gates and" in forecast_part(launch, later, signed)

    _measure("coverage", 80, 0)  # failing
    for page in ("/launches/atlas/", url):
        assert "2 blocking gates and 2 sign-offs left" in client.get(page).content.decode()


@pytest.mark.django_db
def test_a_reading_that_changes_no_status_leaves_the_forecast_drawn(client, pm, launch):
    """The forecast is drawn from statuses, waivers and sign-offs: its version moves with a
    status change, not with every reading (a busy ingest would redraw it each time)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _measure("coverage", 90, 0)
    client.get("/launches/atlas/timeline/")
    _measure("coverage", 91, 0)  # passing again: no status change
    with CaptureQueriesContext(connection) as ctx:
        page = client.get("/launches/atlas/timeline/").content.decode()
    assert "1 blocking gate and" in page
    assert not any("gates_statuschange" in q["sql"] for q in ctx.captured_queries)
