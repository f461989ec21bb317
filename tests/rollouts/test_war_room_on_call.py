"""The war room's "On duty" panel on the Atlas launch: the spec's shifts on now first, then
"Also" the people whose assignments give them a launch-day duty (vera decides, ada is the launch
admin, pat the program manager); the shifts cost no query of their own."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.rollouts.warroom import war_room
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml

pytestmark = pytest.mark.django_db
LIVE = "/launches/atlas/war-room/live/"


def _iso(moment) -> str:
    return moment.isoformat(timespec="seconds")


@pytest.fixture
def rota(launch_spec):
    now = timezone.now()
    return [
        {"role": "Primary", "name": "Priya Raman", "contact": "pager: priya",
         "from": _iso(now - timedelta(hours=1)), "until": _iso(now + timedelta(hours=7))},
        {"role": "Secondary", "name": "Sam Okafor", "from": _iso(now + timedelta(hours=7))},
        {"role": "Escalation", "name": "Engineering manager"},
    ]  # fmt: skip


def _duty(client) -> str:
    html = client.get(LIVE, headers={"HX-Request": "true"}).content.decode()
    return html[html.index('id="wr-duty-title"') : html.index('id="wr-events-title"')]


def test_the_shifts_on_now_come_first_and_the_assigned_people_after_under_also(
    client, launch_spec, rota, people
):
    launch_spec["on_call"] = rota
    import_launch_spec(raw=to_yaml(launch_spec), actor="test")
    client.force_login(people["ada"])
    duty = _duty(client)
    assert duty.index("Priya Raman") < duty.index("Engineering manager") < duty.index("Also")
    assert "pager: priya" in duty and "until " in duty
    assert "Sam Okafor" not in duty  # his shift starts in seven hours
    also = duty[duty.index("Also") :]
    assert also.index("Vera") < also.index("Ada")  # the decider first, as before
    assert "Program manager: emailed when a run rolls back" in also


def test_without_a_rota_it_says_so_and_still_lists_the_assigned_people(client, people):
    client.force_login(people["ada"])
    duty = _duty(client)
    assert "The spec names no on-call rota" in duty
    assert "Launch admin: starts and rolls back the rollout" in duty


def test_a_rota_whose_shifts_are_all_off_says_nobody_is_on(client, launch_spec, people):
    later = timezone.now() + timedelta(days=2)
    launch_spec["on_call"] = [{"role": "Primary", "name": "Priya Raman", "from": _iso(later)}]
    import_launch_spec(raw=to_yaml(launch_spec), actor="test")
    client.force_login(people["ada"])
    assert "No on-call shift of the spec covers this moment." in _duty(client)


def test_the_shifts_on_duty_cost_no_query(launch_spec, rota, people, django_assert_num_queries):
    launch_spec["on_call"] = rota
    launch = import_launch_spec(raw=to_yaml(launch_spec), actor="test").launch
    with django_assert_num_queries(0):
        assert [s.name for s in launch.on_duty(timezone.now())] == [
            "Priya Raman", "Engineering manager"]  # fmt: skip
    room = war_room(launch, people["ada"])
    assert [s.role for s in room.on_call] == ["Primary", "Escalation"]
