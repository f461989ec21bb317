"""The `rollout:` of a launch spec: validated with path-named errors, stored, exported, round-trips;
the seed's launch carries 3.4's stages and triggers and 8.5's post-launch checks."""

import copy
from datetime import timedelta
from decimal import Decimal

import pytest
import yaml

from apps.launches.models import Launch
from apps.rollouts.models import Rollout, RolloutCriterion, RolloutStage
from apps.specs.services import export_launch_spec, import_launch_spec
from apps.specs.spec import SpecError, parse_spec
from tests.helpers import DEMO_SPEC, to_yaml
from tests.rollouts.conftest import ROLLOUT


def _with_rollout(spec, change=None) -> dict:
    spec["rollout"] = copy.deepcopy(ROLLOUT)
    if change:
        change(spec["rollout"])
    return spec


def _errors(spec) -> list[str]:
    with pytest.raises(SpecError) as refused:
        parse_spec(to_yaml(spec))
    return refused.value.errors


BAD = [
    ("traffic over 100", lambda r: r["stages"][1].update(traffic=120),
     "rollout.stages[1].traffic: 120 is not between 1 and 100"),
    ("traffic not rising", lambda r: r["stages"][1].update(traffic=5),
     "rollout.stages[1].traffic: 5 is not above the previous 5"),
    ("bad duration", lambda r: r["stages"][0].update(duration="half an hour"),
     "rollout.stages[0].duration: 'half an hour' is not a duration (<n><unit>, unit one of w, d, "
     "h, m, s)"),
    ("stage without criteria", lambda r: r["stages"][1].update(criteria=[]),
     "rollout.stages[1].criteria: a stage needs at least one criterion"),
    ("bad comparator", lambda r: r["stages"][0]["criteria"][1].update(comparator="=>"),
     "rollout.stages[0].criteria[1].comparator: '=>' is not one of <, <=, >, >=, ==, !="),
    ("unknown placeholder", lambda r: r["stages"][0]["criteria"][0].update(query="x[{{interval}}]"),
     "rollout.stages[0].criteria[0].query: unknown placeholder {{interval}} (use {{window}} or "
     "{{stage_start}})"),
    ("duplicate stage", lambda r: r["stages"][1].update(name="canary-5"),
     "rollout.stages[1].name: duplicate name 'canary-5' (first at [0])"),
    ("trigger without threshold", lambda r: r["rollback_triggers"][0].pop("threshold"),
     "rollout.rollback_triggers[0].threshold: required field is missing"),
    ("interval too short", lambda r: r["analysis"].update(interval="5s"),
     "rollout.analysis.interval: must be at least 10s"),
    ("zero count", lambda r: r["analysis"].update(count=0),
     "rollout.analysis.count: 0 is not between 1 and 1000"),
    ("unknown field", lambda r: r.update(canary={}), "rollout.canary: unknown field"),
    ("post-launch without window", lambda r: r.update(post_launch={"checks": []}),
     "rollout.post_launch.window: required field is missing"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "change", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_rollout_is_refused_naming_the_place(spec, case, change, message):
    assert message in _errors(_with_rollout(spec, change))


@pytest.mark.django_db
def test_a_refused_rollout_changes_nothing(spec):
    bad = _with_rollout(spec, lambda r: r["stages"][0].update(traffic=0))
    with pytest.raises(SpecError):
        import_launch_spec(raw=to_yaml(bad), actor="test")
    assert not Launch.objects.exists() and not Rollout.objects.exists()


@pytest.mark.django_db
def test_the_rollout_is_stored_typed(spec):
    launch = import_launch_spec(raw=to_yaml(_with_rollout(spec)), actor="test").launch
    rollout = launch.rollout
    assert (rollout.interval, rollout.count, rollout.failure_limit) == (timedelta(seconds=10), 2, 2)
    stages = list(rollout.stages.all())
    assert [(s.name, s.traffic, s.duration) for s in stages] == [
        ("canary-5", 5, timedelta(minutes=1)), ("full", 100, None)]  # fmt: skip
    assert [c.name for c in stages[0].criteria.order_by("order")] == ["error-rate", "latency-p99"]
    trigger = rollout.criteria.get(kind="trigger")
    assert (trigger.comparator, trigger.threshold, trigger.stage) == (">", Decimal(5), None)


@pytest.mark.django_db
def test_the_rollout_round_trips_to_identical_yaml(spec):
    rollout = copy.deepcopy(ROLLOUT)
    rollout["post_launch"] = {"window": "24h", "checks": [ROLLOUT["rollback_triggers"][0]]}
    spec["rollout"] = rollout
    launch = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    first = export_launch_spec(launch)
    exported = yaml.safe_load(first)["rollout"]
    assert exported["stages"][0]["duration"] == "1m" and "duration" not in exported["stages"][1]
    assert exported["post_launch"]["baseline_offset"] == "1w"  # the default (7d), written out
    import_launch_spec(raw=first.replace("slug: atlas", "slug: atlas-copy"), actor="test")
    copied = export_launch_spec(Launch.objects.get(slug="atlas-copy"))
    assert copied == first.replace("slug: atlas", "slug: atlas-copy")
    import_launch_spec(raw=first, actor="test")
    assert export_launch_spec(launch) == first


@pytest.mark.django_db
def test_a_reimport_updates_stages_in_place_and_can_drop_the_rollout(spec):
    launch = import_launch_spec(raw=to_yaml(_with_rollout(spec)), actor="test").launch
    canary = RolloutStage.objects.get(name="canary-5")
    spec["rollout"]["stages"][0]["duration"] = "5m"
    spec["rollout"]["stages"].insert(1, {**copy.deepcopy(ROLLOUT["stages"][0]), "name": "canary-50",
                                         "traffic": 50})  # fmt: skip
    result = import_launch_spec(raw=to_yaml(spec), actor="test")
    assert RolloutStage.objects.get(name="canary-5").pk == canary.pk  # runs keep their stage
    assert [s.name for s in launch.rollout.stages.all()] == ["canary-5", "canary-50", "full"]
    assert result.added["stages"] == ["canary-50"]
    del spec["rollout"]
    result = import_launch_spec(raw=to_yaml(spec), actor="test")
    assert result.removed["stages"] == ["canary-5", "canary-50", "full"]
    assert not RolloutCriterion.objects.exists()
    assert "rollout" not in yaml.safe_load(export_launch_spec(launch))


@pytest.fixture
def seed():
    return parse_spec(DEMO_SPEC.read_bytes())["rollout"]


def _rule(criterion: dict) -> tuple:
    return criterion["comparator"], criterion["threshold"], criterion["unit"]


def test_the_seed_has_the_four_stages_of_section_3_4(seed):
    stages = [(s["traffic"], s.get("duration")) for s in seed["stages"]]
    assert stages == [(5, timedelta(minutes=30)), (25, timedelta(hours=1)),
                      (50, timedelta(hours=2)), (100, None)]  # fmt: skip
    rules = [{c["name"]: _rule(c) for c in s["criteria"]} for s in seed["stages"]]
    same = {"error-rate": ("<", Decimal(1), "%"), "latency-p99": ("<", Decimal(100), "ms")}
    assert rules[:2] == [same, same]
    assert rules[2] == {"error-rate": ("<", Decimal("0.5"), "%"),
                        "latency-p99": ("<", Decimal(80), "ms")}  # fmt: skip
    # The full smoke suite: the smoke gates' Prometheus metrics (3.5), all 1.
    assert rules[3] == {"smoke-health-endpoints": ("==", Decimal(1), "up"),
                        "smoke-dependency-connectivity": ("==", Decimal(1), "up")}  # fmt: skip


def test_the_seed_rolls_back_on_the_three_triggers_of_section_3_4(seed):
    triggers = [(t["name"], _rule(t)) for t in seed["rollback_triggers"]]
    assert triggers == [
        ("error-rate-above-5", (">", Decimal(5), "%")),
        ("latency-p99-above-200", (">", Decimal(200), "ms")),
        ("availability-below-99", ("<", Decimal(99), "%")),
    ]


def test_the_seed_reads_the_metrics_its_gates_read(seed):
    gates = {g["key"]: g["query"] for g in parse_spec(DEMO_SPEC.read_bytes())["gates"]
             if g.get("query")}  # fmt: skip
    canary = {c["name"]: c["query"] for c in seed["stages"][0]["criteria"]}
    assert canary["error-rate"] == gates["error-rate"].replace("[1h]", "[{{window}}]")
    assert canary["latency-p99"] == gates["latency-p99"].replace("[1h]", "[{{window}}]")
    smoke = [c["query"] for c in seed["stages"][3]["criteria"]]
    assert smoke == [gates["health-endpoints-up"], gates["dependency-connectivity"]]


def test_the_seed_has_the_post_launch_checks_of_section_8_5(seed):
    post = seed["post_launch"]
    assert (post["window"], post["baseline_offset"]) == (timedelta(hours=24), timedelta(days=7))
    assert {c["name"]: _rule(c) for c in post["checks"]} == {
        "stability-24h": (">=", Decimal("99.9"), "%"),
        "performance-baseline-p99": ("<", Decimal(100), "ms"),
        "error-rate": ("<", Decimal("0.1"), "%"),
    }


@pytest.mark.django_db
def test_the_seed_round_trips_with_its_rollout():
    launch = import_launch_spec(raw=DEMO_SPEC.read_bytes(), actor="test").launch
    first = export_launch_spec(launch)
    assert [s["name"] for s in yaml.safe_load(first)["rollout"]["stages"]] == [
        "canary-5", "canary-25", "canary-50", "full"]  # fmt: skip
    import_launch_spec(raw=first, actor="test")
    assert export_launch_spec(launch) == first
