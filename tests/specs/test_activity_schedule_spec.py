"""Activities as a schedule in the launch spec: keys, weeks, `after`, the Go/No-Go and a gate's
`activity`; refused with their place when wrong; imported, exported and round-tripped."""

import pytest
import yaml

from apps.gates.models import Gate
from apps.launches.models import Activity, Launch
from apps.specs.services import export_launch_spec, import_launch_spec
from apps.specs.spec import SpecError, parse_spec
from tests.helpers import DEMO_SPEC, to_yaml


def _scheduled(spec: dict) -> dict:
    """MINIMAL_SPEC with a small schedule: cluster -> pipelines -> review (the Go/No-Go)."""
    build, certify = spec["phases"]
    build["activities"][0]["key"] = "cluster"
    build["activities"][1].update(key="pipelines", after=["cluster"])
    certify["activities"] = [
        {"key": "review", "name": "Review", "start_week": 3, "end_week": 4,
         "after": ["pipelines"], "go_no_go": True},
    ]  # fmt: skip
    spec["gates"][1]["activity"] = "pipelines"
    return spec


def _errors(spec: dict) -> list[str]:
    with pytest.raises(SpecError) as refused:
        parse_spec(to_yaml(spec))
    return refused.value.errors


def test_a_spec_without_keys_or_dependencies_still_parses_and_gets_keys_from_names(spec):
    parsed = parse_spec(to_yaml(spec))
    activities = parsed["phases"][0]["activities"]
    assert [a["key"] for a in activities] == ["cluster", "pipelines"]
    assert [(a["start_week"], a["end_week"]) for a in activities] == [(1, 1), (2, 2)]


def test_derived_keys_stay_unique_in_the_launch(spec):
    spec["phases"][1]["activities"] = [{"name": "Cluster", "week": 3}]  # same name, other phase
    spec["phases"][0]["activities"][1]["key"] = "cluster-2"  # an explicit key is never taken
    parsed = parse_spec(to_yaml(spec))
    keys = [a["key"] for p in parsed["phases"] for a in p["activities"]]
    assert keys == ["cluster", "cluster-2", "cluster-3"]


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda s: s["phases"][1]["activities"][0]["after"].append("x"),
         "phases[1].activities[0].after[1]: unknown activity 'x'"),
        (lambda s: s["phases"][0]["activities"][0].update(after=["review"]),
         "phases[0].activities[1].after[0]: cycle cluster -> review -> pipelines -> cluster "
         "(each waits for the next)"),
        (lambda s: s["phases"][0]["activities"][1].update(after=["pipelines"]),
         "phases[0].activities[1].after[0]: cycle pipelines -> pipelines "
         "(each waits for the next)"),
        (lambda s: s["phases"][1]["activities"][0].update(key="cluster"),
         "phases[1].activities[0].key: duplicate key 'cluster' (first at phases[0].activities[0])"),
        (lambda s: s["phases"][0]["activities"][1].update(go_no_go=True),
         "phases[1].activities[0].go_no_go: only one activity may be the Go/No-Go "
         "(already phases[0].activities[1])"),
        (lambda s: s["gates"][0].update(activity="nowhere"),
         "gates[0].activity: unknown activity 'nowhere'"),
        (lambda s: s["phases"][1]["activities"][0].update(end_week=5),
         "phases[1].activities[0].end_week: 5 is outside the phase's weeks 3-4"),
        (lambda s: s["phases"][1]["activities"][0].update(start_week=4, end_week=3),
         "phases[1].activities[0].end_week: 3 is before start_week 4"),
        (lambda s: s["phases"][1]["activities"][0].pop("end_week"),
         "phases[1].activities[0].end_week: required with start_week"),
        (lambda s: s["phases"][1]["activities"][0].update(week=3),
         "phases[1].activities[0].week: give week, or start_week and end_week, not both"),
        (lambda s: s["phases"][0]["activities"][0].pop("week"),
         "phases[0].activities[0].week: required field is missing (or start_week and end_week)"),
        (lambda s: s["phases"][0]["activities"][0].update(key="Not A Key"),
         "phases[0].activities[0].key: 'Not A Key' is not a key (lowercase letters, digits and -)"),
    ],
)  # fmt: skip
def test_a_bad_schedule_is_refused_with_its_place(spec, mutate, error):
    spec = _scheduled(spec)
    mutate(spec)
    assert error in _errors(spec)


@pytest.mark.django_db
def test_a_refused_schedule_changes_nothing(spec):
    spec = _scheduled(spec)
    spec["phases"][0]["activities"][0]["after"] = ["review"]
    with pytest.raises(SpecError):
        import_launch_spec(raw=to_yaml(spec), actor="test")
    assert not Launch.objects.exists() and not Activity.objects.exists()


@pytest.mark.django_db
def test_import_stores_the_schedule_and_the_gates_activity(spec):
    import_launch_spec(raw=to_yaml(_scheduled(spec)), actor="test")
    review = Activity.objects.get(key="review")
    assert (review.first_week, review.planned_week, review.go_no_go) == (3, 4, True)
    assert review.after == ["pipelines"]
    assert Activity.objects.get(key="cluster").start_week is None  # one week: week 1 alone
    assert [a.key for a in Gate.objects.get(key="coverage").activities.all()] == ["pipelines"]


@pytest.mark.django_db
def test_export_round_trips_the_schedule(spec):
    import_launch_spec(raw=to_yaml(_scheduled(spec)), actor="test")
    first = export_launch_spec(Launch.objects.get(slug="atlas"))
    exported = yaml.safe_load(first)
    assert exported["phases"][1]["activities"][0] == {
        "key": "review", "name": "Review", "start_week": 3, "end_week": 4,
        "after": ["pipelines"], "status": "todo", "go_no_go": True,
    }  # fmt: skip
    assert exported["phases"][0]["activities"][0]["week"] == 1  # one week stays `week:`
    assert exported["gates"][1]["activity"] == "pipelines"
    import_launch_spec(raw=first.replace("slug: atlas", "slug: atlas-copy"), actor="test")
    second = export_launch_spec(Launch.objects.get(slug="atlas-copy"))
    assert second == first.replace("slug: atlas", "slug: atlas-copy")


@pytest.mark.django_db
def test_an_old_spec_imports_and_its_export_writes_the_derived_keys(spec):
    import_launch_spec(raw=to_yaml(spec), actor="test")  # no key, after, start_week, activity
    exported = yaml.safe_load(export_launch_spec(Launch.objects.get(slug="atlas")))
    activities = exported["phases"][0]["activities"]
    assert [a["key"] for a in activities] == ["cluster", "pipelines"]
    assert not any("after" in a for a in activities)
    assert not any("activity" in gate for gate in exported["gates"])


@pytest.mark.django_db
def test_a_renamed_activity_keeps_its_row_through_its_key(spec):
    import_launch_spec(raw=to_yaml(_scheduled(spec)), actor="test")
    before = Activity.objects.get(key="pipelines")
    spec["phases"][0]["activities"][1]["name"] = "CI/CD pipelines"
    result = import_launch_spec(raw=to_yaml(spec), actor="test")
    after = Activity.objects.get(key="pipelines")
    assert (after.pk, after.name) == (before.pk, "CI/CD pipelines")
    assert result.removed["activities"] == [] and result.added["activities"] == []


@pytest.mark.django_db
def test_the_seed_plan_has_appendix_b_dependencies_and_gate_activities():
    import_launch_spec(raw=DEMO_SPEC.read_bytes(), actor="test")
    after = dict(Activity.objects.values_list("key", "after"))
    assert len(after) == 35 and sum(map(len, after.values())) >= 40
    assert {"k8s-cluster", "databases", "kafka", "redis"} <= set(after["ci-cd-pipelines"])
    assert "operations-training" in after["shadow-on-call"]  # training before shadow on-call
    certification = {"performance-testing", "security-certification",
                     "compliance-verification", "dr-drill"}  # fmt: skip
    assert certification <= set(after["go-no-go"])
    assert Activity.objects.get(go_no_go=True).key == "go-no-go"
    assert after["production-deployment"] == ["go-no-go"]
    evidence = Gate.objects.get(key="penetration-test").activities.get()
    assert evidence.key == "security-certification"
    assert Gate.objects.filter(activities__isnull=False).count() >= 40
