"""The launch-level decision and waiver fields: validated with their place, imported, exported."""

import pytest
import yaml

from apps.launches.models import Launch
from apps.specs.services import export_launch_spec, import_launch_spec
from apps.specs.spec import SpecError, parse_spec
from tests.helpers import DEMO_SPEC, to_yaml


@pytest.mark.parametrize(
    ("launch_fields", "message"),
    [
        ({"decision": {"role": "ceo"}}, "launch.decision.role: 'ceo' is not a role of this launch"),
        ({"decision": {}}, "launch.decision.role: required field is missing"),
        ({"decision": "vp-engineering"}, "launch.decision: expected a mapping, got text"),
        ({"decision": {"role": "vp-engineering", "by": "x"}}, "launch.decision.by: unknown field"),
        ({"waiver_max_days": 0}, "launch.waiver_max_days: 0 is not between 1 and 3650"),
        ({"waiver_max_days": "30d"}, "launch.waiver_max_days: expected a whole number, got text"),
        ({"waivers_outlast_launch": "no"},
         "launch.waivers_outlast_launch: expected true or false, got text"),
    ],
)  # fmt: skip
def test_a_bad_decision_or_waiver_field_is_refused_with_its_place(spec, launch_fields, message):
    spec["launch"].update(launch_fields)
    with pytest.raises(SpecError) as refused:
        parse_spec(to_yaml(spec))
    assert message in refused.value.errors


def test_the_decision_role_must_stay_a_role_of_the_launch(spec):
    del spec["roles"][0]  # vp-engineering, the decision role
    with pytest.raises(SpecError) as refused:
        parse_spec(to_yaml(spec))
    assert refused.value.errors == [
        "launch.decision.role: 'vp-engineering' is not a role of this launch"
    ]


@pytest.mark.django_db
def test_the_fields_are_stored_and_default_when_absent(spec):
    launch = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    assert (launch.decision_role, launch.waiver_max_days, launch.waivers_outlast_launch) == (
        "vp-engineering", 30, False,
    )  # fmt: skip
    del spec["launch"]["decision"]
    spec["launch"].update(waiver_max_days=7, waivers_outlast_launch=True)
    import_launch_spec(raw=to_yaml(spec), actor="test")
    launch.refresh_from_db()
    assert (launch.decision_role, launch.waiver_max_days, launch.waivers_outlast_launch) == (
        "", 7, True,
    )  # fmt: skip


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [{}, {"waiver_max_days": 14, "waivers_outlast_launch": True}],
    ids=["defaults", "set"],
)
def test_export_round_trips_the_fields(spec, fields):
    spec["launch"].update(fields)
    import_launch_spec(raw=to_yaml(spec), actor="test")
    first = export_launch_spec(Launch.objects.get(slug="atlas"))
    exported = yaml.safe_load(first)["launch"]
    assert exported["decision"] == {"role": "vp-engineering"}
    assert {k: exported[k] for k in fields} == fields
    import_launch_spec(raw=first.replace("slug: atlas", "slug: atlas-copy"), actor="test")
    second = export_launch_spec(Launch.objects.get(slug="atlas-copy"))
    assert second == first.replace("slug: atlas", "slug: atlas-copy")


@pytest.mark.django_db
def test_the_demo_launch_is_decided_by_its_cto_ceo():
    launch = import_launch_spec(raw=DEMO_SPEC.read_bytes(), actor="test").launch
    assert launch.decision_role == "cto-ceo"
    assert launch.roles.filter(key="cto-ceo").exists()
