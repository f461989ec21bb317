"""The gates page's rows come from the cache (apps/gates/rows.py) until something they show
changes: a status change, an ingest, a waiver, an attestation; the same rows for everyone who
sees the launch, and the same queries whatever the number of gates."""

import copy
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.gates.models import Gate
from apps.gates.services import Reading, attest, ingest_report, record_reading
from apps.pages.gate_views import FIRST_ROWS
from apps.signoffs.models import Assignment, Duty, Role
from apps.signoffs.waivers import request_waiver
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db
GATES = "/launches/atlas/gates/"
COBERTURA = Path(__file__).parent.parent / "fixtures" / "reports" / "cobertura"


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _person(launch, name, **assignment):
    user = get_user_model().objects.create_user(name, f"{name}@example.com", "pw")
    Assignment.objects.create(launch=launch, user=user, **assignment)
    return user


@pytest.fixture
def pm(client, launch):
    user = _person(launch, "pat", duty=Duty.PROGRAM_MANAGER)
    client.force_login(user)
    return user


@pytest.fixture
def sre(launch):
    return _person(launch, "sam", duty=Duty.SIGNER, role=Role.objects.get(key="sre-lead"))


def _rows(client) -> str:
    return client.get(GATES, headers={"HX-Request": "true"}).content.decode()


def _row_of(page: str, key: str) -> str:
    start = page.index(f'/gates/{key}/"')
    return page[page.rindex("<tr>", 0, start) : page.index("</tr>", start)]


def test_the_second_view_of_the_rows_comes_from_the_cache(client, pm):
    first = _rows(client)
    with CaptureQueriesContext(connection) as ctx:
        second = _rows(client)
    assert second == first
    assert not any("gates_measurement" in q["sql"] for q in ctx.captured_queries)


def test_the_kept_filters_offer_a_category_a_spec_import_adds(client, pm, launch, spec):
    """The filters are kept with the rows: a reading keeps them as they were, a spec import
    that adds a gate of a new category offers it at once, and the chosen filters stay chosen."""

    def categories() -> list[str]:
        page = client.get(GATES).content.decode()
        select = re.search(r'<select name="category".*?</select>', page).group(0)
        return re.findall(r"<option (?:selected)?>([a-z-]+)</option>", select)

    before = categories()
    assert "compliance" not in before and before == sorted(before)
    record_reading(gate=Gate.objects.get(launch=launch, key="coverage"),
                   reading=Reading(value=Decimal(50)), actor="test")  # fmt: skip
    assert categories() == before
    added = {**copy.deepcopy(spec["gates"][1]), "key": "soc2", "name": "SOC 2",
             "category": "compliance"}  # fmt: skip
    import_launch_spec(raw=to_yaml({**spec, "gates": [*spec["gates"], added]}), actor="test")
    assert categories() == sorted([*before, "compliance"])
    page = client.get(f"{GATES}?category=compliance").content.decode()
    assert "<option selected>compliance</option>" in page
    assert _row_of(page, "soc2") and "/gates/coverage/" not in page


def test_a_status_change_shows_at_once(client, pm, launch):
    assert "status-pending" in _row_of(_rows(client), "coverage")
    gate = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal(50)), actor="test")
    assert "status-failing" in _row_of(_rows(client), "coverage")


def test_an_ingested_report_shows_at_once(client, pm, launch):
    _rows(client)
    data = sorted(COBERTURA.glob("*.xml"))[0].read_bytes()
    ingest_report(launch=launch, data=data, format="cobertura", gate_key="coverage",
                  name="coverage.xml", actor="test")  # fmt: skip
    row = _row_of(_rows(client), "coverage")
    assert "status-pending" not in row and "<time datetime=" in row


def test_an_attestation_shows_at_once(client, pm, launch):
    assert "status-pending" in _row_of(_rows(client), "runbooks")
    attest(gate=Gate.objects.get(launch=launch, key="runbooks"), user=pm, comment="done")
    assert "status-passing" in _row_of(_rows(client), "runbooks")


def test_a_waiver_shows_at_once(client, pm, sre, launch):
    gate = Gate.objects.get(launch=launch, key="runbooks")
    record_reading(gate=gate, reading=Reading(value=Decimal(0)), actor="test")
    assert "status-failing" in _row_of(_rows(client), "runbooks")
    request_waiver(gate=gate, user=sre, reason="drill next week",
                   expires_at=timezone.now() + timedelta(days=2))  # fmt: skip
    assert "status-waived" in _row_of(_rows(client), "runbooks")


def test_rows_whose_evidence_goes_stale_are_drawn_again(client, pm, launch):
    gate = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal(90)), actor="test")
    assert "status-passing" in _row_of(_rows(client), "coverage")
    # No write: only time passes, beyond the gate's max_age (1 day).
    Gate.objects.filter(pk=gate.pk).update(last_evidence_at=timezone.now() - timedelta(days=2))
    from apps.gates import rows

    rows.bump(launch.pk)  # the update() above bypasses every writer; a clock does not
    assert "status-unknown" in _row_of(_rows(client), "coverage")


def test_people_of_other_roles_get_the_same_rows_and_nothing_of_each_other(client, pm, sre):
    as_pm = client.get(GATES).content.decode()
    client.force_login(sre)
    as_sre = client.get(GATES).content.decode()
    rows_pm = as_pm[as_pm.index('id="gate-rows"') : as_pm.index("</tbody>")]
    rows_sre = as_sre[as_sre.index('id="gate-rows"') : as_sre.index("</tbody>")]
    assert rows_pm == rows_sre
    for private in ("csrfmiddlewaretoken", "pat@example.com", "sam@example.com", "/attest/"):
        assert private not in rows_pm
    assert "Sign out sam@example.com" in as_sre and "pat@example.com" not in as_sre


def test_an_outsider_gets_no_cached_rows(client, pm, launch):
    _rows(client)
    client.force_login(get_user_model().objects.create_user("nora", "nora@example.com", "pw"))
    assert client.get(GATES, headers={"HX-Request": "true"}).status_code == 404


def _add_gates(launch, count: int) -> None:
    template = Gate.objects.get(launch=launch, key="coverage")
    now = timezone.now()
    gates = Gate.objects.bulk_create(
        Gate(launch=launch, key=f"extra-{i}", name=f"Extra {i}", category="operations",
             dimension="technical", blocking=True, source="manual", comparator="==",
             threshold=1, unit="attested", interval=template.interval, max_age=template.max_age,
             order=100 + i, state="passing", last_measured_at=now, last_evidence_at=now)
        for i in range(Gate.objects.filter(launch=launch).count(), count)
    )  # fmt: skip
    from django.core.cache import cache

    cache.clear()  # written around the services: every part and every row is drawn again
    return gates


def _queries(client, url) -> tuple[int, int]:
    """(queries of a first view, of a second one): the cache cold, then warm."""
    counts = []
    for _ in range(2):
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url).status_code == 200
        counts.append(len(ctx.captured_queries))
    return tuple(counts)


@pytest.mark.parametrize(
    "url", [GATES, "/launches/atlas/", "/launches/atlas/signoffs/sre-lead/sign/"]
)
def test_queries_per_page_are_the_same_at_25_100_and_400_gates(client, launch, sre, url):
    client.force_login(sre)
    counted = {}
    for size in (25, 100, 400):
        _add_gates(launch, size)
        counted[size] = _queries(client, url)
    assert counted[25] == counted[100] == counted[400], counted


DETAIL = "/launches/atlas/gates/coverage/"


def test_a_gate_pages_history_comes_from_the_cache_and_a_reading_shows_at_once(client, pm, launch):
    gate = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal("91.25")), actor="test")
    first = client.get(DETAIL).content.decode()
    assert "91.25" in first and '<figure class="chart">' in first
    with CaptureQueriesContext(connection) as ctx:
        assert "91.25" in client.get(DETAIL).content.decode()
    assert not any("gates_measurement" in q["sql"] or "gates_statuschange" in q["sql"]
                   for q in ctx.captured_queries)  # fmt: skip

    record_reading(gate=gate, reading=Reading(value=Decimal("77.5")), actor="test")

    page = client.get(DETAIL).content.decode()
    assert "77.5" in page and "passing → <strong>failing</strong>" in page


def test_a_gate_pages_cached_parts_carry_nothing_of_the_person(client, pm, launch):
    vera = _person(launch, "vera", duty=Duty.SIGNER, role=Role.objects.get(key="vp-engineering"))
    gate = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal(70)), actor="test")
    request_waiver(gate=gate, user=vera, reason="flaky suite", expires_at=timezone.now()
                   + timedelta(days=1))  # fmt: skip
    as_pm = client.get(DETAIL).content.decode()
    client.force_login(vera)
    as_vera = client.get(DETAIL).content.decode()

    def history(page: str) -> str:
        return page[page.index("<h2>History</h2>") : page.index("<h2>Waivers</h2>")]

    assert history(as_pm) == history(as_vera) and "csrfmiddlewaretoken" not in history(as_pm)
    # The waivers are drawn per person: vera asked, so vera is told to wait; pat may not approve.
    assert "Waiting for another person" in as_vera and "Waiting for another person" not in as_pm


@pytest.mark.parametrize("who", ["pm", "sre", "decider", "outsider-staff"])
def test_a_gate_page_reads_the_persons_assignments_once_and_decides_as_the_rules_do(
    client, pm, sre, launch, who
):
    """Every "may" of the gate page (attest, waive, approve a waiver, administer) comes from one
    query of the person's assignments, and says what can_attest, can_waive, can_approve_waiver
    and administers say one by one."""
    from apps.signoffs.permissions import administers, can_approve_waiver, can_attest, can_waive

    people = {
        "pm": pm,
        "sre": sre,
        "decider": _person(launch, "cleo", duty=Duty.SIGNER,
                           role=Role.objects.get(key=launch.decision_role)),
        "outsider-staff": get_user_model().objects.create_user("stan", "stan@x.org", "pw",
                                                               is_staff=True),
    }  # fmt: skip
    person = people[who]
    client.force_login(person)
    gate = Gate.objects.get(launch=launch, key="coverage")
    client.get(DETAIL)  # warm: the cached parts
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(DETAIL)
    assert response.status_code == 200
    asked = [q for q in ctx.captured_queries if "signoffs_assignment" in q["sql"].split("WHERE")[0]]
    assert len(asked) == 1, [q["sql"] for q in asked]
    context = response.context
    assert context["may_attest"] == (gate.source == "manual" and can_attest(person, gate))
    assert context["may_waive"] == can_waive(person, gate)
    assert context["may_approve"] == can_approve_waiver(person, gate)
    assert context["may_admin"] == administers(person, launch)
    expected = {"pm": ("may_waive",), "decider": ("may_approve",), "outsider-staff": ("may_admin",)}
    assert all(context[name] for name in expected.get(who, ()))


def _history_queries(client) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(DETAIL).status_code == 200
    return [q["sql"] for q in ctx.captured_queries
            if "gates_measurement" in q["sql"] or "gates_statuschange" in q["sql"]]  # fmt: skip


def test_a_reading_of_another_gate_leaves_a_gate_pages_history_drawn(client, pm, launch):
    record_reading(gate=Gate.objects.get(launch=launch, key="coverage"),
                   reading=Reading(value=Decimal(90)), actor="test")  # fmt: skip
    client.get(DETAIL)
    other = Gate.objects.filter(launch=launch).exclude(key="coverage").first()
    record_reading(gate=other, reading=Reading(value=Decimal(1)), actor="test")
    assert _history_queries(client) == []


def test_a_late_reading_shows_on_the_gate_page_at_once(client, pm, launch):
    def history() -> str:
        page = client.get(DETAIL).content.decode()
        return page[page.index("<h2>History</h2>") : page.index("<h2>Waivers</h2>")]

    gate = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal(90)), actor="test")
    assert "95.25" not in history()
    earlier = timezone.now() - timedelta(hours=1)  # older than the newest: not the gate's latest
    record_reading(gate=gate, reading=Reading(value=Decimal("95.25")), actor="test", at=earlier)
    gate.refresh_from_db()
    assert gate.latest_value == Decimal(90)
    assert "95.25" in history()


def _drawn_rows(client) -> tuple[str, int]:
    """(the rows' markup, how many rows were drawn, not taken from the cache)."""
    response = client.get(GATES, headers={"HX-Request": "true"})
    drawn = [t.name for t in response.templates].count("gates/row.html")
    return response.content.decode(), drawn


def test_after_a_reading_only_the_changed_gates_row_is_drawn_again(client, pm, launch):
    _, first = _drawn_rows(client)
    assert first == Gate.objects.filter(launch=launch).active().count()
    gate = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal("88.5")), actor="test")

    page, drawn = _drawn_rows(client)

    assert drawn == 1 and "88.5" in _row_of(page, "coverage")


def test_rows_kept_one_by_one_are_the_rows_a_fresh_draw_gives(client, pm, sre, launch, spec):
    """Whatever changes, the rows put together from kept ones equal the rows drawn from
    nothing: each row's key names every value it shows (views.row_shows)."""
    from django.core.cache import cache

    gate = Gate.objects.get(launch=launch, key="coverage")
    changes = [
        lambda: record_reading(gate=gate, reading=Reading(value=Decimal(70)), actor="test"),
        lambda: request_waiver(gate=gate, user=pm, reason="flaky",
                               expires_at=timezone.now() + timedelta(days=1)),
        lambda: import_launch_spec(raw=to_yaml(_renamed(spec)), actor="test"),
    ]  # fmt: skip
    for change in changes:
        _drawn_rows(client)  # every row kept
        change()
        kept, _ = _drawn_rows(client)
        cache.clear()
        fresh, drawn = _drawn_rows(client)
        assert drawn and kept == fresh


def _renamed(spec: dict) -> dict:
    for gate in spec["gates"]:
        if gate["key"] == "coverage":
            gate["name"] = "Line coverage (renamed)"
            gate["threshold"] = 85
    return spec


def test_redraw_pages_shows_a_change_made_around_the_portal_at_once(client, pm, launch):
    from django.core.management import CommandError, call_command

    first = _rows(client)
    assert "Renamed in SQL" not in first
    Gate.objects.filter(launch=launch, key="coverage").update(name="Renamed in SQL")
    assert "Renamed in SQL" not in _rows(client)  # the kept rows, until told

    call_command("redraw_pages", "atlas")

    assert "Renamed in SQL" in _rows(client)
    with pytest.raises(CommandError, match="no launch nope"):
        call_command("redraw_pages", "atlas", "nope")


# What a row's template reads that is drawn from other fields (views.row_shows names those).
DERIVED = {
    "rule_text": {"comparator", "threshold", "unit"},  # Gate.rule_text
    "get_source_display": {"source"},
    "spark": {"spark_points", "threshold"},  # views._gate_rows draws it from these
}


def test_every_value_a_row_reads_is_in_the_key_it_is_kept_under():
    """A gate row is kept under row_shows(gate): each `gate.x` its template reads (or the fields
    x is drawn from) must be there, or a change of x would leave the kept row stale."""
    import inspect
    import re

    from apps.pages.gate_views import row_shows

    template = (Path(__file__).parents[2] / "templates" / "gates" / "row.html").read_text()
    read = set(re.findall(r"\bgate\.(\w+)", template))
    named = set(re.findall(r"\bgate\.(\w+)", inspect.getsource(row_shows)))
    needed = set().union(*(DERIVED.get(name, {name}) for name in read))
    assert needed - named == set(), "named by the row's template, missing from row_shows"


def _keys(markup: str) -> list[str]:
    return re.findall(r'<td><a href="/launches/atlas/gates/([\w-]+)/">', markup)


def test_the_page_carries_the_first_rows_and_htmx_asks_for_the_rest(client, pm, launch):
    """Fewer bytes with the page (issue 21): FIRST_ROWS rows, then a row that htmx replaces at
    once with the rest, by the same filters; all of them make the live part's rows, in order."""
    _add_gates(launch, 40)
    every = _keys(client.get(f"{GATES}?blocking=yes", headers={"HX-Request": "1"}).content.decode())
    assert len(every) > FIRST_ROWS
    page = client.get(f"{GATES}?blocking=yes").content.decode()
    assert _keys(page) == every[:FIRST_ROWS]
    rest = re.search(r'<tr id="gate-rows-rest" hx-get="([^"]+)" hx-trigger="load" '
                     r'hx-swap="outerHTML">.*?Show the other (\d+) gates</a>', page)  # fmt: skip
    assert rest and rest.group(1) == f"{GATES}?blocking=yes&amp;after={FIRST_ROWS}"
    assert int(rest.group(2)) == len(every) - FIRST_ROWS
    after = client.get(f"{GATES}?blocking=yes&after={FIRST_ROWS}", headers={"HX-Request": "1"})
    assert _keys(page) + _keys(after.content.decode()) == every
    assert "No gate matches" not in after.content.decode()
    no_script = client.get(f"{GATES}?blocking=yes&all=1").content.decode()  # the link's page
    assert _keys(no_script) == every and "gate-rows-rest" not in no_script


def test_a_page_of_few_gates_has_no_rest_and_a_bad_after_reads_as_none(client, pm, launch):
    page = client.get(GATES).content.decode()
    assert len(_keys(page)) == 3 and "gate-rows-rest" not in page
    for after in ("abc", "-1", "9999"):
        response = client.get(f"{GATES}?after={after}", headers={"HX-Request": "1"})
        assert response.status_code == 200
        assert _keys(response.content.decode()) == ([] if after == "9999" else _keys(page))
    nothing = client.get(f"{GATES}?category=none").content.decode()
    assert "No gate matches these filters." in nothing


def _page_and_gate_reads(client, url: str = GATES) -> tuple[str, list[str]]:
    """(the page's rows, every query of the request that reads gates)."""
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url, headers={"HX-Request": "true"}).content.decode()
    return page, [q["sql"] for q in queries.captured_queries if 'FROM "gates_gate"' in q["sql"]]


def _fresh_rows(client, url: str = GATES) -> str:
    from django.core.cache import cache

    cache.clear()
    return client.get(url, headers={"HX-Request": "true"}).content.decode()


def test_a_reading_that_changes_no_status_loads_only_its_gate(client, pm, launch, redis_cache):
    """The kept page of the version before is drawn again from the gate read alone
    (rows.bump(gates=...), on a cache whose counters move in one step): one gate loaded, the
    same rows as a fresh draw."""
    _add_gates(launch, 40)
    gate = Gate.objects.get(launch=launch, key="extra-7")
    _page_and_gate_reads(client)
    attest(gate=gate, user=pm, comment="again")  # passing before and after

    page, reads = _page_and_gate_reads(client)

    assert len(reads) == 1 and f'"gates_gate"."id" IN ({gate.pk})' in reads[0], reads
    assert page == _fresh_rows(client)


def test_after_many_readings_the_page_is_drawn_from_the_one_kept_for_the_gates_read(
    client, pm, launch, redis_cache
):
    """However many readings came between two views (each moves the version on twice), the
    page kept at the first view is drawn again for the gates read since, and nothing else."""
    _add_gates(launch, 40)
    read = [Gate.objects.get(launch=launch, key=f"extra-{i}") for i in (3, 7)]
    _page_and_gate_reads(client)
    for n in range(30):
        attest(gate=read[n % 2], user=pm, comment=f"again {n}")  # passing before and after

    page, reads = _page_and_gate_reads(client)

    assert len(reads) == 1, reads
    assert f'"gates_gate"."id" IN ({read[0].pk}, {read[1].pk})' in reads[0] or (
        f'"gates_gate"."id" IN ({read[1].pk}, {read[0].pk})' in reads[0]
    ), reads
    assert page == _fresh_rows(client)


def test_a_kept_page_out_of_reach_or_lost_is_drawn_whole(client, pm, launch, redis_cache):
    """A page kept REACH versions back is drawn again for the gates those versions name; one
    kept further back, or gone from the cache, is not used: every gate is loaded again."""
    from django.core.cache import cache
    from django.utils.http import urlencode

    from apps.gates import rows

    gate = Gate.objects.get(launch=launch, key="runbooks")
    attest(gate=gate, user=pm, comment="done")

    def versions_naming_the_gate(count: int) -> None:
        """As if `count` readings of the gate came since the page was kept."""
        moved = cache.incr(rows._version_key(launch.pk), count)
        cache.set_many({rows._changed_key(launch.pk, v): frozenset({gate.pk})
                        for v in range(moved - count + 1, moved + 1)})  # fmt: skip

    for distance, drawn_for_the_gate_alone in ((rows.REACH, True), (rows.REACH + 1, False)):
        _page_and_gate_reads(client)
        versions_naming_the_gate(distance)
        page, reads = _page_and_gate_reads(client)
        assert (reads == [reads[0]] and f"IN ({gate.pk})" in reads[0]) is drawn_for_the_gate_alone
        assert page == _fresh_rows(client)

    _page_and_gate_reads(client)
    variant = "list/4;" + urlencode(
        dict.fromkeys(("category", "status", "blocking", "source", "sort"), "")
    )
    slot = rows._slot_key(rows.GATES, launch.pk, variant)
    assert cache.get(slot)[0] == rows.version(launch.pk)
    cache.delete(slot)  # the cache lost it
    versions_naming_the_gate(1)
    page, reads = _page_and_gate_reads(client)
    assert any(f"IN ({gate.pk})" not in sql for sql in reads), reads
    assert page == _fresh_rows(client)


def test_on_the_database_cache_a_reading_draws_every_gate_again(client, pm, launch):
    """Two bumps may meet on one version there (its counters are read, then written): no
    version names the gates it changed, so no page is drawn from an earlier one."""
    gate = Gate.objects.get(launch=launch, key="runbooks")
    attest(gate=gate, user=pm, comment="done")
    _page_and_gate_reads(client)
    attest(gate=gate, user=pm, comment="again")  # passing before and after
    page, reads = _page_and_gate_reads(client)
    assert any(f"IN ({gate.pk})" not in sql for sql in reads), reads
    assert page == _fresh_rows(client)


def test_a_status_change_a_late_order_or_a_lost_link_draws_every_gate_again(
    client, pm, launch, redis_cache
):
    from django.core.cache import cache

    from apps.gates import rows

    coverage = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=coverage, reading=Reading(value=Decimal(90)), actor="test")
    for url in (GATES, f"{GATES}?status=passing", f"{GATES}?sort=measured"):
        _page_and_gate_reads(client, url)
        record_reading(gate=coverage, reading=Reading(value=Decimal(70)), actor="test")  # fails
        page, reads = _page_and_gate_reads(client, url)
        assert any(f"IN ({coverage.pk})" not in sql for sql in reads), (url, reads)
        assert page == _fresh_rows(client, url)
        record_reading(gate=coverage, reading=Reading(value=Decimal(95)), actor="test")
    availability = Gate.objects.get(launch=launch, key="availability")
    record_reading(gate=availability, reading=Reading(value=Decimal("99.99")), actor="test")
    by_measured = f"{GATES}?sort=measured"
    before = re.findall(r'/gates/([\w-]+)/"', _page_and_gate_reads(client, by_measured)[0])
    record_reading(gate=coverage, reading=Reading(value=Decimal(96)), actor="test")  # last now
    page, reads = _page_and_gate_reads(client, by_measured)
    after = re.findall(r'/gates/([\w-]+)/"', page)
    assert before.index("coverage") < before.index("availability")
    assert after.index("coverage") > after.index("availability")
    assert page == _fresh_rows(client, by_measured)

    _page_and_gate_reads(client)
    record_reading(gate=coverage, reading=Reading(value=Decimal(97)), actor="test")
    version = rows.version(launch.pk)
    cache.delete(f"{rows.GATES}:changed:{launch.pk}:{version}")  # the cache lost the link
    page, reads = _page_and_gate_reads(client)
    assert any(f"IN ({coverage.pk})" not in sql for sql in reads), reads
    assert "97" in _row_of(page, "coverage")


def test_a_fresh_reading_of_a_stale_gate_shows_its_status_at_once(client, pm, launch):
    """Its state stays passing, yet it showed unknown (stale evidence) and now passes: the
    pages kept under the gates' statuses are drawn again (rows.STATUS), not only its row."""
    from django.core.cache import cache

    coverage = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=coverage, reading=Reading(value=Decimal(90)), actor="test")
    long_ago = timezone.now() - timedelta(days=3)
    Gate.objects.filter(pk=coverage.pk).update(last_evidence_at=long_ago,
                                               last_measured_at=long_ago)  # fmt: skip
    cache.clear()  # as the pages are drawn once time has passed
    overview = client.get("/launches/atlas/").content.decode()
    assert re.search(r'status-unknown">\w+</span> <a href="[^"]*/gates/coverage/"', overview)
    assert "unknown" in _row_of(_rows(client), "coverage")

    record_reading(gate=coverage, reading=Reading(value=Decimal(91)), actor="test")

    overview = client.get("/launches/atlas/").content.decode()
    assert not re.search(r'status-\w+">\w+</span> <a href="[^"]*/gates/coverage/"', overview)
    assert "status-passing" in _row_of(_rows(client), "coverage")


def test_a_version_the_cache_lost_never_comes_back_as_an_old_one(client, pm, launch):
    """Versions count up from a random start: one the cache dropped starts again elsewhere, so
    no fragment kept under an old one is served (here, after a write around the services)."""
    from django.core.cache import cache

    from apps.gates import rows

    assert "Coverage renamed" not in _rows(client)
    before = rows.version(launch.pk)
    Gate.objects.filter(launch=launch, key="coverage").update(name="Coverage renamed")
    cache.delete(f"{rows.GATES}:version/2:{launch.pk}")
    assert rows.version(launch.pk) not in range(before - 100, before + 100)
    assert "Coverage renamed" in _rows(client)


def test_a_filtered_page_takes_in_a_gate_that_goes_stale_with_no_write(client, pm, launch):
    """The page of ?status=unknown is kept until any gate of its filters changes status by time,
    shown or not: coverage, passing and not listed, joins it once its evidence runs out."""
    import time

    coverage = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=coverage, reading=Reading(value=Decimal(90)), actor="test")
    soon = timezone.now() - coverage.max_age + timedelta(seconds=2)
    Gate.objects.filter(pk=coverage.pk).update(last_evidence_at=soon, last_measured_at=soon)
    from django.core.cache import cache

    cache.clear()  # drawn from here on, as after time has passed
    unknown = f"{GATES}?status=unknown"
    assert "coverage" not in _keys(client.get(unknown).content.decode())
    time.sleep(2.5)
    assert "coverage" in _keys(client.get(unknown).content.decode())


def test_on_the_database_cache_a_version_is_kept_with_no_expiry(launch):
    """Its incr() would write the default timeout: a version gone after 5 minutes would draw
    every part of the launch again."""
    from django.db import connection as db

    from apps.gates import rows

    before = rows.version(launch.pk)
    rows.bump(launch.pk, (rows.GATES,))
    assert rows.version(launch.pk) == before + 1  # (and once more on commit: none in a test)
    with db.cursor() as cursor:
        cursor.execute("SELECT expires FROM portal_cache WHERE cache_key LIKE %s",
                       [f"%{rows.GATES}:version/2:{launch.pk}"])  # fmt: skip
        [(expires,)] = cursor.fetchall()
    assert expires.year == 9999


def test_a_page_reads_its_versions_once_and_forgets_them_when_it_writes(launch):
    """rows.read_once(): the versions as read on entry, in one round trip (another process's
    bump meanwhile is the next request's), until a bump of this one: then the current ones."""
    from django.core.cache import cache

    from apps.gates import rows

    before = {name: rows.version(launch.pk, name) for name in (rows.GATES, rows.STATUS)}
    with rows.read_once(launch.pk, (rows.GATES, rows.STATUS)):
        cache.incr(rows._version_key(launch.pk, rows.GATES))  # another process's reading
        assert rows.version(launch.pk, rows.GATES) == before[rows.GATES]
        rows.bump(launch.pk, (rows.STATUS,))
        assert rows.version(launch.pk, rows.GATES) == before[rows.GATES] + 1
        assert rows.version(launch.pk, rows.STATUS) == before[rows.STATUS] + 1
    assert rows.version(launch.pk, rows.GATES) == before[rows.GATES] + 1


def test_a_kept_page_costs_two_cache_round_trips(client, pm, launch, redis_cache):
    """The person's session, then the launch's version with the page's slot: the rows kept for
    the filters are used as they are, with no other round trip to the cache."""
    from django.core.cache import cache

    client.get(GATES)  # drawn and kept
    calls = []
    backend = type(cache._cache)
    originals = {name: getattr(backend, name) for name in ("get", "get_many", "set", "incr")}

    def spying(name):
        def spy(self, *args, **kwargs):
            calls.append(name)
            return originals[name](self, *args, **kwargs)

        return spy

    try:
        for name in originals:
            setattr(backend, name, spying(name))
        response = client.get(GATES)
    finally:
        for name, original in originals.items():
            setattr(backend, name, original)

    assert response.status_code == 200 and "runbooks" in response.content.decode()
    assert calls == ["get", "get_many"], calls


def test_a_bump_on_redis_is_one_round_trip_per_renewal(
    launch, redis_cache, django_capture_on_commit_callbacks
):
    """On Redis a bump's versions move in one script call, at once and again at the commit,
    with the step-by-step path's rules: each version one step on (from a random start when the
    cache lost it, never 1 again), and the gates it changed kept under the version GATES reached,
    for _changed_since() to read; with no gates named, no version names any."""
    import redis
    from django.core.cache import cache
    from django.db import transaction

    from apps.gates import rows

    before = {name: rows.version(launch.pk, name) for name in (rows.GATES, rows.STATUS)}
    cache.delete(rows._version_key(launch.pk, rows.STATUS))  # the cache lost this one
    sent, original = [], redis.Redis.execute_command

    def spy(self, *args, **options):
        sent.append(args[0])
        return original(self, *args, **options)

    redis.Redis.execute_command = spy
    try:
        with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
            rows.bump(launch.pk, (rows.GATES, rows.STATUS), gates=[7, 9])
            first_time = ["EVALSHA", "SCRIPT LOAD", "EVALSHA"]  # Redis did not know the script
            assert sent in (["EVALSHA"], first_time), sent
            del sent[:]
    finally:
        redis.Redis.execute_command = original
    assert sent == ["EVALSHA"], sent  # the commit's renewal

    assert rows.version(launch.pk, rows.GATES) == before[rows.GATES] + 2
    restarted = rows.version(launch.pk, rows.STATUS)
    assert restarted not in (1, 2, before[rows.STATUS] + 2)  # a random start, then two steps
    reached = before[rows.GATES] + 2
    assert rows._changed_since(launch.pk, reached - 2, reached) == {7, 9}
    left = redis.Redis.from_url(redis_cache).ttl(
        cache.make_key(rows._changed_key(launch.pk, reached))
    )
    assert 0 < left <= rows.FRAGMENT_SECONDS  # kept no longer than a fragment

    rows.bump(launch.pk, (rows.GATES,))  # names no gates: the versions since name none
    assert rows._changed_since(launch.pk, reached, reached + 2) is None

    # The script is made once per process; a Redis that forgot it (a restart, SCRIPT FLUSH)
    # has it loaded again by the client of the bump, and the version still moves.
    redis.Redis.from_url(redis_cache).script_flush()
    moved = rows.version(launch.pk, rows.GATES)
    rows.bump(launch.pk, (rows.GATES,))
    assert rows.version(launch.pk, rows.GATES) == moved + 1  # at once (the test's transaction)
