"""The launch pages, as a program manager and as an outsider see them."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.gates.models import Gate, GateStatus
from apps.gates.services import Reading, record_reading
from apps.launches.models import Launch
from apps.signoffs.readiness import readiness_of_many
from apps.specs.services import import_launch_spec
from tests.helpers import listed_launches, manual_gates, to_yaml

pytestmark = pytest.mark.django_db


def test_a_user_without_an_assignment_does_not_see_the_launch(client, launch):
    user = get_user_model().objects.create_user("nora", "nora@example.com", "pw")
    client.force_login(user)
    assert client.get("/launches/atlas/").status_code == 404
    assert b"Atlas" not in client.get("/launches/").content


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_pages_send_an_anonymous_visitor_to_the_login_page(client, launch):
    for url in ("/launches/", "/launches/atlas/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.url.startswith("/accounts/login/")


def test_the_login_page_renders(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Launch Portal" in response.content


def test_nobody_can_sign_up(client):
    response = client.get("/accounts/signup/")
    assert b"Sign Up Closed" in response.content or response.status_code in (403, 404)


def test_the_launch_list_shows_each_launch(client, pm, launch):
    response = client.get("/launches/")
    assert response.status_code == 200
    assert b"Atlas" in response.content
    assert listed_launches(response)["atlas"]["Gates"] == "3"


def test_the_launch_lists_gate_count_follows_a_spec_import(client, pm, launch, spec):
    """The count is kept in the cache (summary.active_gate_counts): an import that retires a
    gate shows at once."""

    client.get("/launches/")
    spec["gates"] = [g for g in spec["gates"] if g["key"] != "coverage"]
    import_launch_spec(raw=to_yaml(spec), actor="test")
    assert listed_launches(client.get("/launches/"))["atlas"]["Gates"] == "2"


def test_the_launch_list_judges_readiness_as_the_overview_does(client, pm, launch):
    """The list judges many launches by the overview's rule (readiness_of_many: the gates that
    may block and the roles with only what the blockers read): the same blockers. Its rows are
    kept (views.launch_rows), so a list asked again reads no gate, role or sign-off."""
    gate = Gate.objects.get(key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal(80)), actor="test")
    overview = client.get("/launches/atlas/").context["readiness"]
    launch = Launch.objects.with_record_version().get()
    listed = readiness_of_many([launch], timezone.now())[launch.pk]
    assert [(b.kind, b.key, b.status, b.reason) for b in listed.blockers] == [
        (b.kind, b.key, b.status, b.reason) for b in overview.blockers
    ]
    assert {b.kind for b in listed.blockers} == {"gate", "signoff"}
    client.get("/launches/")
    with CaptureQueriesContext(connection) as queries:
        row = listed_launches(client.get("/launches/"))["atlas"]
    assert (row["Readiness"], row["Blockers"]) == ("not ready", str(len(overview.blockers)))
    loaded = [re.match(r'SELECT (?:DISTINCT )?"(\w+)"', q["sql"]) for q in queries.captured_queries]
    tables = {m.group(1) for m in loaded if m}
    assert {t for t in tables if t.startswith(("signoffs_", "gates_"))} == set(), tables


def test_the_overview_shows_phases_gates_roles_and_status(client, pm, launch):
    gate = Gate.objects.get(key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal(80)), actor="test")
    response = client.get("/launches/atlas/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in (
        "Build",
        "Certify",
        "Cluster",
        "Availability",
        "Runbooks tested",
        "VP Engineering",
        "SRE Lead",
        "T-24h",
        "T+24h",
    ):
        assert text in page
    # The blockers list: each blocking gate not holding, with its status, in spec order.
    blockers = re.findall(r'<li><span class="status status-(\w+)">\w+</span> <a href="[^"]*/gates/'
                          r'([\w-]+)/">', page)  # fmt: skip
    assert blockers == [("pending", "availability"), ("failing", "coverage")]
    # The attention table: every gate not passing, blocking ones first.
    shown = re.findall(r'<td><span class="status status-(\w+)">\w+</span></td>\s*<td><a href="'
                       r'[^"]*/gates/([\w-]+)/">', page)  # fmt: skip
    assert {key: status for status, key in shown} == {
        "availability": "pending", "coverage": "failing", "runbooks": "pending"}  # fmt: skip


def test_an_unknown_launch_is_404(client, pm):
    assert client.get("/launches/nope/").status_code == 404


def test_the_overview_query_count_does_not_grow_with_gates_or_measurements(client, pm, launch):
    def measure() -> int:
        from django.core.cache import cache
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        cache.clear()  # counted as first drawn, every part and every row
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/launches/atlas/").status_code == 200
        return len(ctx.captured_queries)

    before = measure()
    for gate in manual_gates(launch, 20):
        for _ in range(5):
            record_reading(gate=gate, reading=Reading(value=Decimal(1)), actor="test")
    assert measure() == before


def test_a_measurement_older_than_max_age_reads_stale(launch):
    gate = Gate.objects.get(key="coverage")
    old = timezone.now() - gate.max_age - timedelta(minutes=1)
    record_reading(gate=gate, reading=Reading(value=Decimal(90)), actor="test", at=old)
    gate.refresh_from_db()
    assert gate.current_status()[0] == GateStatus.UNKNOWN
    record_reading(gate=gate, reading=Reading(value=Decimal(91)), actor="test")
    gate.refresh_from_db()
    assert gate.current_status() == (GateStatus.PASSING, "")


def test_the_admin_lists_every_model(client, launch):
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    for url in ("launch", "phase", "activity", "sequencestep"):
        assert client.get(f"/admin/launches/{url}/").status_code == 200
    for url in (
        "/admin/gates/gate/",
        "/admin/gates/measurement/",
        "/admin/gates/prometheussource/",
        "/admin/signoffs/role/",
        "/admin/audit/auditevent/",
    ):
        assert client.get(url).status_code == 200
    assert client.get("/admin/gates/gate/?q=coverage").status_code == 200
