"""The program manager's pages: they answer, show the launch, and cost the same queries
however many gates and measurements there are."""

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates import rows
from apps.gates.models import Gate, GateStatus, Measurement
from apps.gates.services import Reading, record_reading
from apps.launches.models import Activity
from apps.signoffs.models import Assignment, Duty

pytestmark = pytest.mark.django_db
SLUG = "llm-research-lab"
PAGES = ["/launches/", f"/launches/{SLUG}/", f"/launches/{SLUG}/timeline/",
         f"/launches/{SLUG}/gates/", f"/launches/{SLUG}/gates/code-coverage/",
         f"/launches/{SLUG}/signoffs/", f"/launches/{SLUG}/audit/",
         f"/launches/{SLUG}/decision/"]  # fmt: skip


@pytest.fixture
def demo(settings):
    from apps.demo.loader import load_demo

    settings.DEBUG = True
    load_demo()


@pytest.fixture
def pm(client, demo):
    user = get_user_model().objects.get(username="pm")
    client.force_login(user)
    return user


@pytest.mark.parametrize("url", PAGES)
def test_every_page_answers_the_program_manager(client, pm, url):
    assert client.get(url).status_code == 200


def test_the_timeline_shows_phases_5_1_to_5_6_over_ten_weeks(client, pm):
    page = client.get(f"/launches/{SLUG}/timeline/").content.decode()
    for code in ("5.1", "5.2", "5.3", "5.4", "5.5", "5.6"):
        assert f">{code}</tspan>" in page
    for week in range(1, 11):
        assert f">W{week}</text>" in page
    for label in ("T-24h", "T-12h", "T-4h", "T-1h", "T-0", "T+24h"):
        assert label in page


def test_changing_an_activity_shows_in_the_timeline_and_the_audit_log(client, pm):
    activity = Activity.objects.get(name="Security certification")
    response = client.post(f"/launches/{SLUG}/activities/{activity.pk}/",
                           {"status": "done", "owner": "Security Lead"},
                           headers={"HX-Request": "true"})  # fmt: skip
    assert response.status_code == 200
    assert "selected>Done</option>" in response.content.decode()
    page = client.get(f"/launches/{SLUG}/timeline/").content.decode()
    assert page.count("selected>Done</option>") == Activity.objects.filter(status="done").count()
    event = AuditEvent.objects.get(action="activity.updated")
    assert event.data["after"] == {"status": "done", "owner": "Security Lead"}
    assert client.get(f"/launches/{SLUG}/audit/?action=activity").context["page"][0] == event


def test_only_the_program_manager_edits_activities(client, demo):
    client.force_login(get_user_model().objects.get(username="sre-lead"))
    activity = Activity.objects.first()
    response = client.post(f"/launches/{SLUG}/activities/{activity.pk}/", {"status": "done"})
    assert response.status_code == 403


def _listed_gates(client, query: str) -> list[Gate]:
    """The gates the page lists, in its order, each with the status it shows."""
    page = client.get(f"/launches/{SLUG}/gates/?{query}&all=1").content.decode()
    shown = re.findall(r'<span class="status status-(\w+)"[^>]*>\w+</span></td>\s*<td><a href="'
                       rf'/launches/{SLUG}/gates/([\w-]+)/">', page)  # fmt: skip
    gates = {g.key: g for g in Gate.objects.filter(launch__slug=SLUG)}
    for status, key in shown:
        gates[key].status = status
    return [gates[key] for _, key in shown]


def test_the_gates_page_filters_sorts_and_downloads_csv(client, pm):
    gates = _listed_gates(client, "source=manual&blocking=yes&sort=name")
    assert gates and all(g.source == "manual" and g.blocking for g in gates)
    assert [g.name.lower() for g in gates] == sorted(g.name.lower() for g in gates)
    failing = _listed_gates(client, "status=failing")
    assert failing and {g.status for g in failing} == {"failing"}
    response = client.get(f"/launches/{SLUG}/gates/?category=quality&format=csv")
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert response["Content-Type"].startswith("text/csv")
    assert {r["category"] for r in rows} == {"quality"}
    assert "code-coverage" in {r["key"] for r in rows}


def test_csv_cells_that_look_like_formulas_are_neutralised(client, pm):
    Gate.objects.filter(key="code-coverage").update(name='=HYPERLINK("http://evil.example","x")')
    response = client.get(f"/launches/{SLUG}/gates/?format=csv")
    rows = {r["key"]: r for r in csv.DictReader(io.StringIO(response.content.decode()))}
    assert rows["code-coverage"]["name"].startswith("'=")


def test_the_gate_page_shows_rule_history_measurements_and_roles(client, pm):
    response = client.get(f"/launches/{SLUG}/gates/code-coverage/")
    page = response.content.decode()
    assert "coverage.line_percent of the latest cobertura report" in page
    assert "threshold &gt;= 85 %" in page
    assert response.context["chart"] and page.count("<rect ") == 6  # a band per evaluation
    assert "VP Engineering" in page
    assert len(re.findall(r"<tr><td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</td>", page)) == 6


HOSTILE = "<script>alert('x')</script> & \"quoted\""


def test_gate_text_is_escaped_on_every_page_that_shows_it(client, pm):
    """The rows and the overview's body (cached per launch version) and a gate's chart and
    measurements escape the text, whichever path drew them."""
    gate = Gate.objects.get(launch__slug=SLUG, key="code-coverage")
    Gate.objects.filter(pk=gate.pk).update(name=HOSTILE, state=GateStatus.FAILING,
                                           state_reason=HOSTILE)  # fmt: skip
    Measurement.objects.filter(gate=gate).update(reason=HOSTILE)
    for url in (
        f"/launches/{SLUG}/",
        f"/launches/{SLUG}/gates/",
        f"/launches/{SLUG}/gates/?status=failing",
        f"/launches/{SLUG}/gates/code-coverage/",
    ):
        page = client.get(url).content.decode()
        assert "<script>alert" not in page, url
        escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;"
        assert escaped in page, url


def test_a_live_fragment_is_served_for_htmx(client, pm):
    response = client.get(f"/launches/{SLUG}/gates/", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert b"<html" not in response.content and b"<tr>" in response.content


def _count(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url).status_code == 200
    return len(ctx.captured_queries)


def test_queries_per_page_do_not_grow_with_gates_or_measurements(client, pm, settings):
    """Counted on the demo launch, then again with 100 more gates of 1,000 measurements each.

    The cache is in memory, as Redis is in production (the tests' default cache is a table,
    whose reads would count as queries); each page is counted as first drawn after a write."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    client.get(PAGES[0])  # the session is read from its table once, then from the cache
    template = Gate.objects.get(key="code-coverage")
    record_reading(gate=template, reading=Reading(value=Decimal(80)), actor="test")  # bumps
    launch = template.launch
    rows.bump(launch.pk, rows.EVERYTHING)  # every cached part drawn again, not only the gates'
    before = {url: _count(client, url) for url in PAGES}
    extra = Gate.objects.bulk_create(
        Gate(launch=launch, key=f"extra-{i}", name=f"Extra {i}", category="quality",
             dimension="technical", blocking=True, source="report", format="junit",
             metric="tests.failed", comparator="==", threshold=0, unit="count",
             interval=template.interval, max_age=template.max_age, order=100 + i)
        for i in range(100)
    )  # fmt: skip
    now = timezone.now()
    readings = (
        Measurement(gate=gate, status=GateStatus.PASSING, value=Decimal(0),
                    evaluated_at=now - timedelta(minutes=n))
        for gate in [*extra, template] for n in range(1000)
    )  # fmt: skip
    Measurement.objects.bulk_create(readings, batch_size=10_000)
    record_reading(gate=template, reading=Reading(value=Decimal(90)), actor="test")  # bumps
    rows.bump(launch.pk, rows.EVERYTHING)
    after = {url: _count(client, url) for url in PAGES}
    assert after == before
    # 18, every part drawn: the overview's readiness forecast reads its blocking gates and its
    # history in 3 (views.forecast_part; it is kept while no status changes)
    assert max(after.values()) <= 18, after


def test_an_outsider_sees_none_of_the_pages(client, demo):
    user = get_user_model().objects.create_user("nora", "nora@example.com", "pw")
    client.force_login(user)
    for url in PAGES[1:]:
        assert client.get(url).status_code == 404, url
    Assignment.objects.create(launch=Gate.objects.first().launch, user=user, duty=Duty.AUDITOR)
    assert client.get(PAGES[1]).status_code == 200


def test_the_overview_links_administration_pages_only_for_admins(client, django_user_model):
    import yaml

    from apps.specs.services import import_launch_spec
    from tests.helpers import MINIMAL_SPEC

    launch = import_launch_spec(raw=yaml.safe_dump(MINIMAL_SPEC), actor="test").launch
    admin = django_user_model.objects.create_user("ada", "ada@example.com", "pw")
    auditor = django_user_model.objects.create_user("aud", "aud@example.com", "pw")
    Assignment.objects.create(launch=launch, user=admin, duty=Duty.ADMIN)
    Assignment.objects.create(launch=launch, user=auditor, duty=Duty.AUDITOR)
    links = ("/launches/atlas/people/", "/launches/atlas/tokens/", "/launches/atlas/webhooks/")
    client.force_login(admin)
    page = client.get("/launches/atlas/").content.decode()
    assert all(f'href="{link}"' in page for link in links)
    for link in links:
        assert client.get(link).status_code == 200, link
    client.force_login(auditor)
    page = client.get("/launches/atlas/").content.decode()
    assert not any(link in page for link in links)
