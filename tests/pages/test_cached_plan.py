"""The overview's phases, sequence and overdue activities come from the cache (issue 21) until
what they show changes: an activity update (browser or API), a spec import, an admin change, or
the day."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.launches.models import Activity, ActivityStatus
from apps.signoffs.models import Assignment, Duty
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db
OVERVIEW = "/launches/atlas/"
PLAN_TABLES = ("launches_phase", "launches_activity", "launches_sequencestep")


def _plan_queries(client, path=OVERVIEW, **headers) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(path, headers=headers).status_code == 200
    return [q["sql"] for q in ctx.captured_queries if any(t in q["sql"] for t in PLAN_TABLES)]


def _overdue_activity(launch) -> Activity:
    """An activity whose planned week is over and that is not done."""
    current = launch.current_week()
    activity = (
        Activity.objects.filter(phase__launch=launch, planned_week__lt=current)
        .exclude(status=ActivityStatus.DONE)
        .order_by("planned_week")
        .first()
    )
    if activity is None:  # the spec's dates put every activity ahead: move the launch back
        launch.start_date -= timedelta(weeks=12)
        launch.save(update_fields=["start_date"])
        activity = Activity.objects.filter(phase__launch=launch).first()
        activity.status = ActivityStatus.IN_PROGRESS
        activity.save(update_fields=["status"])
    return activity


def test_the_second_view_reads_no_phase_activity_or_sequence(client, pm):
    first = client.get(OVERVIEW).content.decode()
    assert "<h2>Phases</h2>" in first and "<h2>Launch sequence</h2>" in first
    assert _plan_queries(client) == []
    assert _plan_queries(client, HX_Request="true") == []  # the live part's poll too


def test_an_activity_update_in_the_browser_shows_at_once(client, pm, launch):
    activity = _overdue_activity(launch)
    page = client.get(OVERVIEW).content.decode()
    assert f"#activity-{activity.pk}" in page  # listed as overdue

    response = client.post(f"/launches/atlas/activities/{activity.pk}/",
                           {"status": "done", "owner": "Quinn Doe"})  # fmt: skip
    assert response.status_code == 302

    page = client.get(OVERVIEW).content.decode()
    assert f"#activity-{activity.pk}" not in page  # done: no longer overdue
    assert "Quinn Doe" in page  # the phases table shows the new owner


def test_an_activity_update_through_the_api_shows_at_once(client, pm, launch):
    from apps.api.models import Scope
    from apps.api.services import create_api_token

    activity = Activity.objects.filter(phase__launch=launch).exclude(status="blocked").first()
    blocked = client.get(OVERVIEW).content.decode().count("act act-blocked")
    _, raw = create_api_token(launch=launch, name="t", scopes=[Scope.MANAGE], actor="test")
    response = client.patch(f"/api/v1/launches/atlas/activities/{activity.pk}/",
                            {"status": "blocked"}, content_type="application/json",
                            headers={"Authorization": f"Bearer {raw}"})  # fmt: skip
    assert response.status_code == 200, response.content
    assert client.get(OVERVIEW).content.decode().count("act act-blocked") == blocked + 1


def test_a_spec_import_renaming_a_phase_shows_at_once(client, pm, spec):
    client.get(OVERVIEW)
    spec["phases"][0]["name"] = "Renamed by the import"
    import_launch_spec(raw=to_yaml(spec), actor="test")
    assert "Renamed by the import" in client.get(OVERVIEW).content.decode()


def test_an_admin_change_of_an_activity_shows_at_once(client, pm, launch):
    root = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    activity = Activity.objects.filter(phase__launch=launch).first()
    client.get(OVERVIEW)
    client.force_login(root)
    url = f"/admin/launches/activity/{activity.pk}/change/"
    form = client.get(url).context["adminform"].form
    data = {name: form[name].value() for name in form.fields if form[name].value() is not None}
    data["owner"] = "Changed In Admin"
    assert client.post(url, data).status_code == 302
    client.force_login(pm)
    assert "Changed In Admin" in client.get(OVERVIEW).content.decode()


def test_what_is_overdue_moves_with_the_day(client, pm, launch, monkeypatch):
    activity = Activity.objects.filter(phase__launch=launch).order_by("-planned_week").first()
    activity.status = ActivityStatus.IN_PROGRESS
    activity.save(update_fields=["status"])
    assert f"#activity-{activity.pk}" not in client.get(OVERVIEW).content.decode()

    later = timezone.now() + timedelta(weeks=activity.planned_week + 60)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert f"#activity-{activity.pk}" in client.get(OVERVIEW).content.decode()


TIMELINE = "/launches/atlas/timeline/"


def test_the_timelines_second_view_reads_no_phase_activity_or_sequence(client, pm):
    first = client.get(TIMELINE).content.decode()
    assert "gantt-chart" in first and "<h2>Launch sequence</h2>" in first
    assert _plan_queries(client, TIMELINE) == []


def test_an_activity_update_shows_on_the_timeline_at_once(client, pm, launch):
    activity = Activity.objects.filter(phase__launch=launch).first()
    client.get(TIMELINE)
    response = client.post(f"/launches/atlas/activities/{activity.pk}/",
                           {"status": "blocked", "owner": "Quinn Doe"})  # fmt: skip
    assert response.status_code == 302
    page = client.get(TIMELINE).content.decode()
    row = page[page.index(f'id="activity-{activity.pk}"') :]
    row = row[: row.index("</tr>")]
    assert 'value="Quinn Doe"' in row and 'value="blocked" selected' in row


def test_cached_edit_forms_carry_each_persons_own_csrf_token(client, pm, launch):
    from django.middleware.csrf import _unmask_cipher_token

    from apps.gates.rows import CSRF_SLOT

    other = get_user_model().objects.create_user("max", "max@example.com", "pw")
    Assignment.objects.create(launch=launch, user=other, duty=Duty.PROGRAM_MANAGER)
    viewer = get_user_model().objects.create_user("val", "val@example.com", "pw")
    Assignment.objects.create(launch=launch, user=viewer, duty=Duty.AUDITOR)
    pages = {}
    for person in (pm, other, viewer):
        client.force_login(person)
        client.cookies.pop("csrftoken", None)
        response = client.get(TIMELINE)
        pages[person.username] = (response.content.decode(), response.cookies["csrftoken"].value)

    for name in ("pat", "max"):
        page, cookie = pages[name]
        tokens = set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', page))
        assert tokens and CSRF_SLOT not in page
        assert {_unmask_cipher_token(t) for t in tokens} == {cookie}  # this person's secret
    assert pages["pat"][1] != pages["max"][1]
    assert "inline-edit" not in pages["val"][0]  # an auditor reads the rows, edits nothing

    strict = type(client)(enforce_csrf_checks=True)  # the served token is accepted
    strict.force_login(pm)
    page = strict.get(TIMELINE).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    activity = Activity.objects.filter(phase__launch=launch).first()
    form = {"status": "done", "owner": "", "csrfmiddlewaretoken": token}
    assert strict.post(f"/launches/atlas/activities/{activity.pk}/", form).status_code == 302
    form["csrfmiddlewaretoken"] = CSRF_SLOT
    assert strict.post(f"/launches/atlas/activities/{activity.pk}/", form).status_code == 403


def test_a_reading_redraws_the_gates_parts_but_not_the_plan(client, pm, launch):
    """The plan's parts have their own version: ingests and polls (which bump the gates') do not
    throw them away."""
    from decimal import Decimal

    from apps.gates.models import Gate
    from apps.gates.services import Reading, record_reading

    client.get(OVERVIEW)
    client.get(TIMELINE)
    gate = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal("12.5")), actor="test")

    with CaptureQueriesContext(connection) as ctx:
        page = client.get(OVERVIEW).content.decode()
    assert "12.5" in page or "failing" in page  # the gates' parts were drawn again
    assert any("gates_gate" in q["sql"] for q in ctx.captured_queries)
    assert _plan_queries(client) == []
    assert _plan_queries(client, TIMELINE) == []
