"""Queries built once per process (portal/prepared.py): each call's values reach the database,
the answers are the ORM rule's, and a query whose SQL is not the same for every value is refused
when it is prepared, not run with the values it was built with."""

import re
import threading
from datetime import datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.backends import AuthenticationBackend, ModelBackend
from apps.audit.models import AuditEvent
from apps.audit.services import RECENT, recent_events, record
from apps.gates.models import WAIVERS_SHOWN, Gate, shown_gate, shown_waivers
from apps.gates.services import Reading, record_reading
from apps.launches.models import Launch
from apps.signoffs import permissions
from apps.signoffs.models import Assignment, Duty, Role, current_roles
from apps.signoffs.permissions import listed_launches, visible_launch, visible_launches
from apps.signoffs.readiness import readiness
from apps.specs.services import import_launch_spec
from portal.prepared import NotPreparable, PreparedQuery
from tests.helpers import to_yaml
from tests.waivers import standing_waiver

pytestmark = pytest.mark.django_db


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


def _person(name, *, staff=False, active=True):
    return get_user_model().objects.create_user(
        name, f"{name}@example.com", "pw", is_staff=staff, is_active=active
    )


@pytest.fixture
def people(launch):
    """One person per way of holding (or not holding) the launch, at the moment `now`."""
    now = timezone.now()
    sre = Role.objects.get(key="sre-lead")
    holders = {
        "holder": {},
        "ended": {"valid_until": now - timedelta(minutes=1)},
        "not-yet": {"valid_from": now + timedelta(minutes=1)},
        "revoked": {"revoked_at": now - timedelta(minutes=1)},
        "window": {"valid_from": now - timedelta(hours=1), "valid_until": now + timedelta(hours=1)},
    }
    found = {}
    for name, window in holders.items():
        found[name] = _person(name)
        Assignment.objects.create(launch=launch, user=found[name], duty=Duty.SIGNER, role=sre,
                                  **window)  # fmt: skip
    found["inactive"] = _person("inactive", active=False)
    Assignment.objects.create(launch=launch, user=found["inactive"], duty=Duty.PROGRAM_MANAGER)
    found["outsider"] = _person("outsider")
    found["staff"] = _person("staff", staff=True)
    return found


@pytest.mark.parametrize("record_version", [False, True])
@pytest.mark.parametrize("carry", [False, True])
def test_the_prepared_launch_is_the_one_the_orm_rule_lets_each_person_see(
    launch, people, carry, record_version
):
    seen = {}
    for name, user in people.items():
        found = visible_launch(user, launch.slug, record_version=record_version, carry=carry)
        ruled = visible_launches(user).filter(slug=launch.slug).first()
        assert found == ruled, name
        seen[name] = found is not None
        if found is not None and record_version:
            expected = Launch.objects.with_record_version().get(pk=launch.pk).record_version
            assert found.record_version == expected
    seen_by = {name for name, saw in seen.items() if saw}
    assert seen_by == {"holder", "window", "staff"}
    assert visible_launch(people["holder"], "no-such-launch", carry=carry) is None


def test_the_moment_is_each_calls_own(launch, people):
    """One compiled query, asked at moments on each side of a holding's window."""
    held = Assignment.objects.get(user=people["window"])
    values = {"user_id": people["window"].pk, "slug": launch.slug}
    sees = permissions._HOLDER_SEES[False]
    inside, before, after = held.valid_from, held.valid_from, held.valid_until
    assert sees(now=inside + timedelta(seconds=1), **values) == [launch]
    assert sees(now=before - timedelta(seconds=1), **values) == []
    assert sees(now=after - timedelta(microseconds=1), **values) == [launch]
    assert sees(now=after, **values) == []  # valid_until is the first moment it no longer holds


def test_the_listed_launches_are_the_ones_the_orm_rule_lets_each_person_see(spec, launch, people):
    """The launch list's prepared read against visible_launches() with the same annotations:
    the same launches, in the same order, with the same counts and record versions, for every
    way of holding or not holding a launch; and a second launch only its holder and staff see."""
    other = import_launch_spec(raw=to_yaml({**spec, "launch": {**spec["launch"], "slug": "other"}}),
                               actor="test").launch  # fmt: skip
    Assignment.objects.create(launch=other, user=people["holder"], duty=Duty.PROGRAM_MANAGER)
    annotated = Launch.objects.with_counts().with_record_version()
    seen = {}
    for name, user in people.items():
        found = listed_launches(user)
        ruled = list(visible_launches(user, annotated))
        assert found == ruled, name
        shown = [(x.slug, x.required_roles, x.record_version) for x in found]
        assert shown == [(x.slug, x.required_roles, x.record_version) for x in ruled], name
        seen[name] = {x.slug for x in found}
    assert seen["holder"] == seen["staff"] == {launch.slug, "other"}
    assert seen["window"] == {launch.slug}
    assert not seen["ended"] | seen["not-yet"] | seen["revoked"] | seen["inactive"]
    assert not seen["outsider"]
    assert all(x.required_roles > 0 and x.record_version for x in listed_launches(people["staff"]))


def test_the_prepared_holdings_are_the_orm_rules_at_each_moment(launch, people):
    """permissions_for()'s read of a person's assignments on a launch, prepared, against
    current_assignments() at now and at each edge of a holding's window; a token (no pk) and
    the inactive hold nothing."""
    held = Assignment.objects.get(user=people["window"])
    moments = [None, held.valid_from - timedelta(seconds=1), held.valid_from, held.valid_until]
    for name, user in people.items():
        for now in moments:
            found = permissions._holdings(user, launch, now)
            ruled = list(permissions.current_assignments(user, launch, now).order_by("pk"))
            assert found == ruled, (name, now)
            assert [a.role for a in found] == [a.role for a in ruled]
    assert permissions._holdings(people["window"], launch, held.valid_until) == []
    assert permissions._holdings(people["inactive"], launch) == []
    token = type("TokenUser", (), {"pk": None, "is_authenticated": True, "is_active": True})()
    assert permissions._holdings(token, launch) == []


def test_readiness_judges_each_call_at_its_own_moment(launch):
    """readiness()'s prepared reads take the moment as a value: a gate passing on evidence of
    `now` stops blocking at once and blocks again once its evidence is older than max_age."""
    gate = launch.gates.get(key="coverage")
    reading = Reading(value=Decimal(99))
    record_reading(gate=gate, reading=reading, actor="test")
    now = timezone.now()
    blockers = {b.key for b in readiness(launch, now).blockers if b.kind == "gate"}
    later = {b.key for b in readiness(launch, now + gate.max_age).blockers if b.kind == "gate"}
    assert "coverage" not in blockers
    assert "coverage" in later
    assert {"availability"} <= blockers


def test_the_recent_events_are_the_launchs_newest_and_follow_each_new_one(spec, launch):
    """The overview's recent activity, prepared, against the ORM read it replaces: the launch's
    newest RECENT events, newest first, none of another launch; an event recorded after the
    first read is at the top of the next; a forged slug is a value, not SQL."""
    other = import_launch_spec(raw=to_yaml({**spec, "launch": {**spec["launch"], "slug": "other"}}),
                               actor="test").launch  # fmt: skip
    for n in range(RECENT + 2):
        with transaction.atomic():
            record(actor="test", action="test.event", launch_slug=launch.slug, obj_key=f"k{n}")
            record(actor="test", action="test.event", launch_slug=other.slug, obj_key=f"o{n}")
    ruled = list(AuditEvent.objects.for_launch(launch.slug).reverse()[:RECENT])
    found = recent_events(launch.slug)
    assert [e.pk for e in found] == [e.pk for e in ruled]
    assert [e.object_key for e in found[:2]] == [f"k{RECENT + 1}", f"k{RECENT}"]
    assert {(e.at, e.actor_name, e.action) for e in found} == {
        (e.at, e.actor_name, e.action) for e in ruled
    }
    with transaction.atomic():
        record(actor="test", action="test.event", launch_slug=launch.slug, obj_key="newest")
    assert recent_events(launch.slug)[0].object_key == "newest"
    assert recent_events(f"{launch.slug}' OR '1'='1") == []


def test_the_shown_gate_is_the_pages_read_at_each_moment(spec, launch, people):
    """The gate page's and the API's read of one gate, prepared, against for_dashboard(): the
    waiver covering it shows until it expires at the moment asked; a retired gate, another
    launch's gate and a forged key are none."""
    gate = launch.gates.get(key="coverage")
    ends = timezone.now() + timedelta(days=1)
    standing_waiver(gate, requested_by=people["holder"], approved_by=people["staff"],
                    expires_at=ends)  # fmt: skip
    for now in (timezone.now(), ends - timedelta(seconds=1), ends):
        found = shown_gate(launch.pk, "coverage", now)
        ruled = Gate.objects.filter(launch=launch).for_dashboard(now).get(key="coverage")
        assert found == ruled
        assert found.waiver_shown_at == now
        assert found.waiver_expires_at == ruled.waiver_expires_at
        assert (found.current_status(now), found.prometheus) == (ruled.current_status(now), None)
    assert shown_gate(launch.pk, "coverage", ends - timedelta(seconds=1)).waiver_expires_at == ends
    assert shown_gate(launch.pk, "coverage", ends).waiver_expires_at is None
    assert shown_gate(launch.pk, "availability", ends).prometheus.key == "prod"
    other = import_launch_spec(raw=to_yaml({**spec, "launch": {**spec["launch"], "slug": "other"}}),
                               actor="test").launch  # fmt: skip
    assert shown_gate(other.pk, "coverage", ends) != gate
    Gate.objects.filter(pk=gate.pk).update(retired_at=timezone.now())
    assert shown_gate(launch.pk, "coverage", ends) is None
    assert shown_gate(launch.pk, "coverage' OR '1'='1", ends) is None


def test_a_gates_waivers_and_roles_are_the_orm_reads_they_replace(launch, people):
    """The gate page's waivers (the newest WAIVERS_SHOWN, each knowing its gate without a query)
    and the launch's roles (not retired, in its order), prepared, against the ORM reads."""
    gate = launch.gates.get(key="coverage")
    ends = timezone.now() + timedelta(days=1)
    for n in range(WAIVERS_SHOWN + 2):
        standing_waiver(gate, requested_by=people["holder"], approved_by=people["staff"],
                        expires_at=ends + timedelta(minutes=n), reason=f"w{n}")  # fmt: skip
    with CaptureQueriesContext(connection) as ctx:
        found = shown_waivers(gate)
        assert {w.gate.key for w in found} == {"coverage"}
    assert len(ctx.captured_queries) == 1
    assert [w.pk for w in found] == [w.pk for w in gate.waivers.all()[:WAIVERS_SHOWN]]
    assert found[0].reason == f"w{WAIVERS_SHOWN + 1}" and len(found) == WAIVERS_SHOWN

    def roles():
        return list(launch.roles.filter(retired_at__isnull=True).order_by("order", "key"))

    assert current_roles(launch) == roles() and len(roles()) > 1
    retired = roles()[0]
    Role.objects.filter(pk=retired.pk).update(retired_at=timezone.now())
    assert retired not in current_roles(launch)
    assert current_roles(launch) == roles()


def test_a_holding_that_ends_leaves_the_list_at_once(launch, people):
    """The list asks with the moment of each call: a holding revoked after the query was
    prepared (and the person's list read once) no longer lists the launch."""
    assert listed_launches(people["holder"]) == [launch]
    Assignment.objects.filter(user=people["holder"]).update(revoked_at=timezone.now())
    assert listed_launches(people["holder"]) == []


def test_carried_holdings_come_with_their_launch_and_role_in_one_query(launch, people):
    with CaptureQueriesContext(connection) as ctx:
        found = visible_launch(people["holder"], launch.slug, carry=True, record_version=True)
        held = found._holdings[1]
        names = [(a.launch.slug, a.role.key) for a in held]
    assert names == [(launch.slug, "sre-lead")]
    assert len(ctx.captured_queries) == 1


def test_a_signed_in_person_whose_account_is_deactivated_is_signed_out(client, launch, people):
    client.force_login(people["holder"])
    assert client.get(f"/launches/{launch.slug}/gates/").status_code == 200

    get_user_model().objects.filter(pk=people["holder"].pk).update(is_active=False)

    response = client.get(f"/launches/{launch.slug}/gates/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_id_nobody_has_is_nobody(people):
    for backend in (ModelBackend(), AuthenticationBackend()):
        assert backend.get_user(people["holder"].pk) == people["holder"]
        assert backend.get_user(people["inactive"].pk) is None
        assert backend.get_user(2**31 - 1) is None


@pytest.mark.django_db(transaction=True)
def test_another_thread_runs_it_on_its_own_connection(spec):
    launch = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    staff = _person("staff", staff=True)
    visible_launch(staff, launch.slug)  # compiled on this thread's connection
    answers = []

    def ask():
        answers.append((visible_launch(staff, launch.slug), id(connections["default"])))
        connections.close_all()

    thread = threading.Thread(target=ask)
    thread.start()
    thread.join()
    assert answers[0][0] == launch
    assert answers[0][1] != id(connections["default"])


def _launch_named(slug):
    return Launch.objects.filter(slug=slug)


def test_a_query_that_reads_the_clock_itself_is_refused():
    stale = PreparedQuery(
        lambda slug: _launch_named(slug).filter(created_at__lte=timezone.now()), slug=str
    )
    with pytest.raises(NotPreparable, match="neither one of its values"):
        stale(slug="x")


def test_a_query_whose_sql_changes_with_a_value_is_refused():
    sliced = PreparedQuery(lambda first: Launch.objects.all()[:first], first=int)  # LIMIT n
    with pytest.raises(NotPreparable, match="changes with its values"):
        sliced(first=3)


def test_a_value_the_query_does_not_use_is_refused():
    unused = PreparedQuery(lambda slug, now: _launch_named(slug), slug=str, now=datetime)
    with pytest.raises(NotPreparable, match=r"\['now'\] not in its SQL"):
        unused(slug="x", now=timezone.now())


def test_values_of_the_wrong_kind_are_refused():
    by_slug = PreparedQuery(lambda slug: _launch_named(slug), slug=str)
    at = PreparedQuery(lambda now: Launch.objects.filter(created_at__lte=now), now=datetime)
    with pytest.raises(TypeError):
        by_slug(slug=3)
    with pytest.raises(TypeError):
        by_slug(name="x")
    with pytest.raises(TypeError, match="not a datetime"):
        at(now=datetime(2030, 1, 1))  # naive: which zone?
    with pytest.raises(TypeError):
        PreparedQuery(lambda flag: Launch.objects.filter(closed_at__isnull=flag), flag=bool)


@pytest.mark.django_db(transaction=True)
def test_a_locking_query_is_refused_outside_a_transaction_as_django_refuses_it():
    locked = PreparedQuery(lambda slug: _launch_named(slug).select_for_update(), slug=str)
    with transaction.atomic():
        assert locked(slug="x") == []  # compiled here, where Django compiles it

    with pytest.raises(TransactionManagementError, match="outside of a transaction"):
        locked(slug="x")


def test_a_forged_slug_is_a_value_not_sql(launch, people):
    """A slug carrying SQL reaches the database as a parameter: it names no launch."""
    forged = f"{launch.slug}' OR '1'='1"
    for name in ("holder", "staff"):
        assert visible_launch(people[name], forged) is None
        assert visible_launch(people[name], forged, carry=True) is None


def test_the_database_keeps_a_repeated_read_prepared_with_each_calls_values(launch, people):
    """portal/settings.py binds parameters on the server and has a connection keep a statement
    it runs a fifth time prepared: the visibility read is then planned once, not per request,
    and each call's values still decide (a forged slug, another person)."""
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (SQLite has no such setting)")
    assert connection.settings_dict["OPTIONS"]["server_side_binding"] is True
    threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    for _ in range(threshold + 1):
        assert visible_launch(people["holder"], launch.slug) == launch
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    read = [sql for sql in prepared if "signoffs_assignment" in sql and '"launches_launch"' in sql]
    assert read and all("$1" in sql and launch.slug not in sql for sql in read), prepared
    assert visible_launch(people["outsider"], launch.slug) is None
    assert visible_launch(people["holder"], f"{launch.slug}' OR '1'='1") is None
    assert visible_launch(people["holder"], launch.slug) == launch


_SQL_TYPES = {str: "text", int: "bigint", datetime: "timestamptz"}


def test_a_plan_made_for_any_value_still_finds_the_newest_event_by_people(launch, people):
    """The launches list's record version (people_head()) under a plan PostgreSQL makes once for
    every value of its parameters, as a prepared statement may: it reads the partial index of
    people's events, not every reading recorded since (the actions are in the SQL, not values)."""
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL plan")
    from apps.audit.models import AuditEvent, people_head

    read = Launch.objects.annotate(record_version=people_head()).filter(slug=launch.slug)
    sql, params = read.query.sql_with_params()
    numbered = iter(range(1, len(params) + 1))
    statement = re.sub("%s", lambda _: f"${next(numbered)}", sql)
    connection.ensure_connection()
    # Client-side binding (psycopg's ClientCursor) on the same connection and transaction: a
    # server-bound PREPARE would take its $1 for a parameter of its own.
    with psycopg.ClientCursor(connection.connection) as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test's few rows: as at scale
        kinds = ", ".join(_SQL_TYPES[type(value)] for value in params)
        cursor.execute(f"PREPARE people_head_read ({kinds}) AS {statement}")
        try:
            values = ", ".join(["%s"] * len(params))
            cursor.execute(f"EXPLAIN EXECUTE people_head_read({values})", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE people_head_read")
    assert "audit_event_people_newest" in plan, plan
    assert read.get().record_version == (
        AuditEvent.objects.filter(chain=launch.slug)
        .exclude(action__in=("gate.status_changed", "report.ingested"))
        .order_by("-sequence")
        .values_list("hash", flat=True)
        .first()
        or ""
    )
