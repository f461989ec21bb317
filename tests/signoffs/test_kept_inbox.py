"""What a person's pages read from a launch's record is kept in the cache under the launch's
newest audit event (Launch.objects.with_record_version): the inbox (inbox.kept_inbox), the
sign-offs' half of readiness on /launches/ (readiness_of_many) and on the overview, its newest
events. Each must follow every audited write at once, and time alone (a condition or a request
falling due, a delegate's window opening) without any write; a write around the services shows
after `manage.py redraw_pages`, as the gate rows do."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.gates.models import Gate
from apps.gates.services import ingest_report
from apps.launches.models import Launch
from apps.signoffs.inbox import inbox_for, kept_inbox
from apps.signoffs.models import Assignment, Condition, Duty, Role, SignOff
from apps.signoffs.readiness import readiness, readiness_of_many
from apps.signoffs.requests import request_signoff
from apps.signoffs.services import AssignmentInput, assign_role
from apps.specs.services import import_launch_spec
from tests.helpers import listed_launches, to_yaml
from tests.signoffs.conftest import read, sign

pytestmark = pytest.mark.django_db
SIGN_VP = "/launches/atlas/signoffs/vp-engineering/sign/"
COBERTURA = (Path(__file__).parents[1] / "fixtures" / "reports" / "cobertura"
             / "coveragepy-7.17.4-nobranch.xml")  # fmt: skip


def _launches():
    return list(Launch.objects.with_record_version())


def _shown(inbox) -> tuple:
    waiting = [(w.role.key, w.state, w.blocking, w.due_at, w.on_behalf_of) for w in inbox.waiting]
    return waiting, [(c.condition.text, c.overdue) for c in inbox.conditions]


def _kept(user, now=None) -> tuple:
    return _shown(kept_inbox(user, now or timezone.now(), _launches()))


def _fresh(user, now=None) -> tuple:
    return _shown(inbox_for(user, now or timezone.now()))


def test_the_kept_inbox_is_inbox_for_after_each_audited_write(client, people, all_passing):
    vera = people["vera"]
    assert _kept(vera) == _fresh(vera) == ([("vp-engineering", "not signed", [], None, "")], [])
    with CaptureQueriesContext(connection) as queries:
        _kept(vera)
    assert [q["sql"] for q in queries.captured_queries if "signoffs_" in q["sql"]] == []

    client.force_login(vera)
    assert sign(client, SIGN_VP, "approve").status_code == 302
    assert _kept(vera) == _fresh(vera) == ([], [])

    read("coverage", "70")  # a reading invalidates the approval (audited)
    assert _kept(vera) == _fresh(vera)
    assert _kept(vera)[0] == [("vp-engineering", "invalidated", ["coverage"], None, "")]

    due = timezone.now() + timedelta(days=2)
    with transaction.atomic():
        request_signoff(launch=Launch.objects.get(), roles=[Role.objects.get(key="vp-engineering")],
                        user=people["pat"], due_at=due, message="please")  # fmt: skip
    assert _kept(vera) == _fresh(vera)
    assert _kept(vera)[0][0][3] == due


def test_a_condition_falling_due_shows_without_a_write(client, people, all_passing):
    vera, sam = people["vera"], people["sam"]
    client.force_login(vera)
    due = timezone.now() + timedelta(minutes=6)  # before any gate's evidence goes stale
    condition = {"condition_0": "fix the flaky test", "owner_0": "Sam",
                 "due_0": due.strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
    assert sign(client, SIGN_VP, "approve_with_conditions", **condition).status_code == 302
    now = timezone.now()
    assert _kept(vera, now) == ([], [])
    assert _kept(sam, now)[1] == [("fix the flaky test", False)]

    later = Condition.objects.get().due_at + timedelta(seconds=1)  # no write in between

    assert _kept(vera, later) == _fresh(vera, later)
    assert [(role, state) for role, state, *_ in _kept(vera, later)[0]] == [
        ("vp-engineering", "conditions due")
    ]  # the signer's: the approval's condition is due
    assert _kept(sam, later) == _fresh(sam, later)
    assert _kept(sam, later)[1] == [("fix the flaky test", True)]  # the owner's: overdue


def test_a_delegates_window_opening_shows_without_a_write(people, launch, all_passing):
    nora, now = people["nora"], timezone.now()
    opens = now + timedelta(hours=2)
    with transaction.atomic():
        assign_role(launch=launch, user=nora, actor="test", what=AssignmentInput(
            duty=Duty.SIGNER, role=Role.objects.get(key="vp-engineering"),
            delegate_of=people["vera"], valid_from=opens, valid_until=opens + timedelta(days=1),
            reason="vacation"))  # fmt: skip
    assert _kept(nora, now) == ([], [])

    later = opens + timedelta(seconds=1)

    assert _kept(nora, later) == _fresh(nora, later)
    [(role, state, _, _, on_behalf_of)] = _kept(nora, later)[0]
    assert (role, state, on_behalf_of) == ("vp-engineering", "not signed", "Vera")


def test_a_blocking_gate_that_fails_shows_in_the_inbox_at_once(people, all_passing):
    vera = people["vera"]
    assert _kept(vera)[0][0][2] == []
    read("availability", "90")  # no approval to invalidate: only the gate's status changes
    assert _kept(vera) == _fresh(vera)
    assert _kept(vera)[0][0][2] == ["availability"]


def test_a_write_around_the_services_shows_after_redraw_pages(people, all_passing):
    vera = people["vera"]
    with transaction.atomic():
        Role.objects.filter(key="vp-engineering").update(name="VP Eng")  # no audit event
    assert _kept(vera) == _fresh(vera)  # nothing was kept yet
    with transaction.atomic():
        Condition.objects.all().delete()
        SignOff.objects.create(launch=Launch.objects.get(), role=Role.objects.get(
            key="vp-engineering"), user=vera, decision="approve", signed_at=timezone.now(),
            printed_name="Vera", meaning="forged", digest="0" * 64, snapshot={})  # fmt: skip
    assert _kept(vera) != _fresh(vera)  # around the audit log: kept as it was

    call_command("redraw_pages")

    assert _kept(vera) == _fresh(vera) == ([], [])


def test_list_and_overview_follow_a_sign_off_at_once(client, people, all_passing):
    client.force_login(people["vera"])
    overview = client.get("/launches/atlas/")
    assert [b.key for b in overview.context["readiness"].blockers] == ["vp-engineering",
                                                                       "sre-lead"]  # fmt: skip
    assert listed_launches(client.get("/launches/"))["atlas"]["Blockers"] == "2"

    assert sign(client, SIGN_VP, "approve").status_code == 302

    overview = client.get("/launches/atlas/")
    assert [b.key for b in overview.context["readiness"].blockers] == ["sre-lead"]
    assert overview.context["recent"][0].action == "signoff.signed"
    launch = Launch.objects.with_record_version().get()
    assert overview.context["readiness"].blockers == readiness(launch, timezone.now()).blockers
    assert listed_launches(client.get("/launches/"))["atlas"]["Blockers"] == "1"
    state = readiness_of_many([launch], timezone.now())[launch.pk]
    assert [b.key for b in state.blockers] == ["sre-lead"]
    assert state == readiness(launch, timezone.now())


def test_a_write_to_one_launch_draws_only_its_part_again(client, people, all_passing, spec):
    vera = people["vera"]
    spec["launch"]["slug"] = "zephyr"
    zephyr = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    Assignment.objects.create(launch=zephyr, user=vera, duty=Duty.SIGNER,
                              role=zephyr.roles.get(key="vp-engineering"))  # fmt: skip
    assert [(w.launch.slug, w.state) for w in kept_inbox(vera, timezone.now(), _launches()).waiting
            ] == [("atlas", "not signed"), ("zephyr", "not signed")]  # fmt: skip
    with transaction.atomic():  # around the audit log: zephyr's part stays as it was kept
        Assignment.objects.filter(launch=zephyr).delete()

    client.force_login(vera)
    assert sign(client, SIGN_VP, "approve").status_code == 302  # atlas: audited

    kept = kept_inbox(vera, timezone.now(), _launches())
    assert [(w.launch.slug, w.state) for w in kept.waiting] == [("zephyr", "not signed")]
    call_command("redraw_pages")
    assert kept_inbox(vera, timezone.now(), _launches()).waiting == []


def _record_version(launch) -> str:
    return Launch.objects.with_record_version().get(pk=launch.pk).record_version


def test_readings_leave_the_record_version_and_what_people_do_moves_it(client, people, launch,
                                                                       all_passing):  # fmt: skip
    before = _record_version(launch)
    read("coverage", "70")  # a status change: gate.status_changed, and nothing of people
    read("coverage", "71")
    assert _record_version(launch) == before
    client.force_login(people["vera"])
    read("coverage", "90")
    assert sign(client, SIGN_VP, "approve").status_code == 302  # signoff.signed
    assert _record_version(launch) != before


def test_the_list_after_a_report_reads_no_gate_or_sign_off(client, people, launch, all_passing):
    client.force_login(people["vera"])
    read("coverage", "70")
    client.get("/launches/")
    for _ in range(2):  # audited (report.ingested), failing still: no status changed
        ingest_report(launch=launch, data=COBERTURA.read_bytes(), format="cobertura",
                      gate_key="coverage", name="coverage.xml", actor="ci")  # fmt: skip
    assert Gate.objects.get(key="coverage").state == "failing"
    with CaptureQueriesContext(connection) as queries:
        page = client.get("/launches/")
    loaded = [re.match(r'SELECT (?:DISTINCT )?"(\w+)"', q["sql"]) for q in queries.captured_queries]
    tables = {m.group(1) for m in loaded if m}
    assert {t for t in tables if t.startswith(("signoffs_", "gates_"))} == set(), tables
    assert [w.blocking for w in page.context["inbox"].waiting] == [["coverage"]]


def test_no_action_of_people_is_left_out_of_the_record_version():
    """MACHINE_ACTIONS are left out of the record version: none of them may be an action the
    sign-off, launch, API or admin code records (those change what people see kept)."""
    from apps.audit.models import MACHINE_ACTIONS

    root = Path(__file__).parents[2] / "apps"
    recorded = {action for path in root.rglob("*.py") if "gates" not in path.parts
                for action in re.findall(r'action="([a-z_.]+)"', path.read_text())}  # fmt: skip
    assert recorded and not recorded & set(MACHINE_ACTIONS)
    gates = "".join(p.read_text() for p in (root / "gates").rglob("*.py"))
    assert all(f'action="{action}"' in gates for action in MACHINE_ACTIONS)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's plan")
def test_the_record_version_is_one_index_entry_away(launch):
    """The subquery's filter is the partial index's predicate, so PostgreSQL may read the newest
    event of people from it alone. Which index it picks depends on its statistics (a test
    database has none), so the test leaves it only that one or a scan it is told not to use."""
    sql, params = Launch.objects.with_record_version().filter(pk=launch.pk).query.sql_with_params()
    with connection.cursor() as cursor:  # undone with the test's transaction
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks: the table may change
        cursor.execute("ALTER TABLE audit_auditevent DROP CONSTRAINT audit_event_chain_sequence")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "audit_event_people_newest" in plan, plan
