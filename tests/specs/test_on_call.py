"""The spec's on-call rota (`on_call:`): validated with the place of each problem, stored on the
launch, exported as imported, and asked "who is on now?" through Launch.on_duty alone."""

from datetime import UTC, datetime, timedelta

import pytest
import yaml

from apps.launches.models import Launch, Shift
from apps.specs.services import export_launch_spec, import_launch_spec
from apps.specs.spec import SpecError, parse_spec
from tests.helpers import DEMO_SPEC, to_yaml

T0 = datetime(2027, 3, 2, 15, tzinfo=UTC)
ROTA = [
    {"role": "Primary", "name": "Priya Raman", "contact": "+44 20 7946 0018",
     "from": "2027-03-02T14:00:00Z", "until": "2027-03-03T14:00:00Z"},
    {"role": "Secondary", "name": "Sam Okafor", "contact": "pager: sam-o",
     "from": "2027-03-02T16:00:00+01:00", "until": "2027-03-03T15:00:00+01:00"},
    {"role": "Primary", "name": "Priya Raman", "from": "2027-03-03T14:00:00Z"},
    {"role": "Escalation", "name": "Engineering manager"},
]  # fmt: skip


def _errors(spec: dict) -> list[str]:
    with pytest.raises(SpecError) as caught:
        parse_spec(to_yaml(spec))
    return caught.value.errors


def test_a_spec_without_a_rota_has_an_empty_one(spec):
    assert parse_spec(to_yaml(spec))["on_call"] == []


def test_each_shift_is_typed_and_the_same_person_may_hold_several(spec):
    spec["on_call"] = ROTA
    shifts = parse_spec(to_yaml(spec))["on_call"]
    assert [s["name"] for s in shifts] == ["Priya Raman", "Sam Okafor", "Priya Raman",
                                           "Engineering manager"]  # fmt: skip
    assert shifts[1]["from"] == datetime(2027, 3, 2, 15, tzinfo=UTC)
    assert "until" not in shifts[2] and "from" not in shifts[3]


@pytest.mark.parametrize(
    ("shift", "error"),
    [
        ({"name": "Priya"}, "on_call[0].role: required field is missing"),
        ({"role": "Primary", "name": ""}, "on_call[0].name: must not be empty"),
        ({"role": "Primary", "name": "Priya", "contact": 7}, "on_call[0].contact: expected text"),
        ({"role": "Primary", "name": "Priya", "from": "2027-03-02T14:00:00"},
         "on_call[0].from: 2027-03-02T14:00:00 has no time zone"),
        ({"role": "Primary", "name": "Priya", "until": "tomorrow"},
         "on_call[0].until: 'tomorrow' is not an ISO-8601 date and time"),
        ({"role": "Primary", "name": "Priya", "from": "2027-03-02T14:00:00Z",
          "until": "2027-03-02T14:00:00Z"}, "on_call[0].until: 2027-03-02T14:00:00+00:00 is not "
         "after from"),
        ({"role": "Primary", "name": "Priya", "pager": "x"}, "on_call[0].pager: unknown field"),
        ("Priya", "on_call[0]: expected a mapping, got text"),
    ],
)  # fmt: skip
def test_a_bad_shift_is_refused_naming_its_place(spec, shift, error):
    spec["on_call"] = [shift]
    assert any(e.startswith(error) for e in _errors(spec)), _errors(spec)


def test_the_rota_must_be_a_list(spec):
    spec["on_call"] = {"role": "Primary"}
    assert "on_call: expected a list, got a mapping" in _errors(spec)


def test_a_shift_is_on_from_its_start_until_just_before_its_end():
    shift = Shift("Primary", "Priya", starts=T0, ends=T0 + timedelta(hours=8))
    assert not shift.is_on(T0 - timedelta(seconds=1))
    assert shift.is_on(T0) and shift.is_on(T0 + timedelta(hours=7, minutes=59))
    assert not shift.is_on(T0 + timedelta(hours=8))
    assert Shift("Escalation", "Engineering manager").is_on(T0)  # no times: always on


@pytest.mark.django_db
class TestTheStoredRota:
    @pytest.fixture
    def launch(self, spec) -> Launch:
        spec["on_call"] = ROTA
        return import_launch_spec(raw=to_yaml(spec), actor="test").launch

    def test_it_is_stored_in_utc(self, launch):
        launch.refresh_from_db()
        assert launch.on_call[1] == {"role": "Secondary", "name": "Sam Okafor",
                                     "contact": "pager: sam-o", "from": "2027-03-02T15:00:00Z",
                                     "until": "2027-03-03T14:00:00Z"}  # fmt: skip

    def test_on_duty_lists_the_shifts_whose_times_contain_now(self, launch):
        def on(now):
            return [(s.role, s.name) for s in launch.on_duty(now)]

        before = T0 - timedelta(hours=2)
        assert on(before) == [("Escalation", "Engineering manager")]
        assert on(T0) == [("Primary", "Priya Raman"), ("Secondary", "Sam Okafor"),
                          ("Escalation", "Engineering manager")]  # fmt: skip
        next_day = T0 + timedelta(days=1)  # 15:00 Z: Priya's second shift, Sam's has ended
        assert on(next_day) == [("Primary", "Priya Raman"), ("Escalation", "Engineering manager")]

    def test_it_round_trips_through_the_export(self, launch):
        first = export_launch_spec(launch)
        assert yaml.safe_load(first)["on_call"][0] == {
            "role": "Primary", "name": "Priya Raman", "contact": "+44 20 7946 0018",
            "from": "2027-03-02T14:00:00Z", "until": "2027-03-03T14:00:00Z",
        }  # fmt: skip
        import_launch_spec(raw=first.replace("slug: atlas", "slug: atlas-copy"), actor="test")
        copied = Launch.objects.get(slug="atlas-copy")
        assert export_launch_spec(copied) == first.replace("slug: atlas", "slug: atlas-copy")

    def test_a_reimport_without_the_rota_clears_it(self, launch, spec):
        del spec["on_call"]
        import_launch_spec(raw=to_yaml(spec), actor="test")
        launch.refresh_from_db()
        assert launch.on_call == []
        assert "on_call" not in yaml.safe_load(export_launch_spec(launch))


@pytest.mark.django_db
def test_the_seed_launch_carries_the_rota_of_5_4_for_launch_week():
    launch = import_launch_spec(raw=DEMO_SPEC.read_bytes(), actor="test").launch
    roles = [(s.role, s.name.split(" (")[0]) for s in launch.shifts()]
    assert roles == [("Primary", "Primary on-call engineer"),
                     ("Secondary", "Secondary on-call engineer"),
                     ("Escalation", "Manager"), ("Escalation", "Director")]  # fmt: skip
    war_room_opens = launch.target_t0 - timedelta(hours=1)  # 8.4: T-1h
    assert [s.role for s in launch.on_duty(war_room_opens)] == [
        "Primary", "Secondary", "Escalation", "Escalation"]  # fmt: skip
    # 8.3: staffed for launch week, a 7-day rotation (5.4)
    assert len(launch.on_duty(war_room_opens + timedelta(days=7))) == 2
