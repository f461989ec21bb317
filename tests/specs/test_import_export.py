"""Importing, re-importing and exporting launch specs."""

from datetime import timedelta
from decimal import Decimal

import pytest
import yaml
from django.core.management import call_command

from apps.audit.models import AuditEvent
from apps.gates.models import Gate, GateStatus, Measurement
from apps.launches.models import Activity, Launch, Phase
from apps.signoffs.models import Role
from apps.specs.services import export_launch_spec, import_launch_spec
from tests.helpers import DEMO_SPEC, to_yaml

pytestmark = pytest.mark.django_db


def _import(spec: dict):
    return import_launch_spec(raw=to_yaml(spec), actor="test")


def test_import_creates_the_launch_with_typed_fields(spec):
    result = _import(spec)
    launch = Launch.objects.get(slug="atlas")
    assert result.created
    assert launch.target_t0.isoformat() == "2027-03-02T15:00:00+00:00"
    assert [p.code for p in launch.phases.all()] == ["1", "2"]
    gate = Gate.objects.get(key="availability")
    assert gate.threshold == Decimal("99.9")
    assert gate.prometheus.key == "prod"
    assert gate.interval == timedelta(minutes=5)  # default for prometheus gates
    assert gate.max_age == timedelta(minutes=15)  # default: three intervals
    coverage = Gate.objects.get(key="coverage")
    assert coverage.max_age == timedelta(days=1)
    assert coverage.controls == ["CC8.1"]
    assert Activity.objects.get(name="Cluster").completed_at is not None
    assert [s.label for s in launch.sequence.all()] == ["T-24h", "T-0", "T+24h"]


def test_import_is_recorded_in_the_audit_log(spec):
    _import(spec)
    event = AuditEvent.objects.get()
    assert (event.action, event.launch_slug, event.actor_name) == (
        "launch.imported",
        "atlas",
        "test",
    )
    assert event.data["created"] is True


def test_export_round_trips_to_identical_yaml(spec):
    _import(spec)
    first = export_launch_spec(Launch.objects.get(slug="atlas"))
    # Import the export as a brand-new launch: it must come back out the same.
    import_launch_spec(raw=first.replace("slug: atlas", "slug: atlas-copy"), actor="test")
    second = export_launch_spec(Launch.objects.get(slug="atlas-copy"))
    assert second == first.replace("slug: atlas", "slug: atlas-copy")
    import_launch_spec(raw=first, actor="test")
    assert export_launch_spec(Launch.objects.get(slug="atlas")) == first


def test_export_is_readable_yaml_with_the_spec_values(spec):
    _import(spec)
    exported = yaml.safe_load(export_launch_spec(Launch.objects.get(slug="atlas")))
    gate = exported["gates"][0]
    assert gate["threshold"] == 99.9
    assert gate["comparator"] == ">="
    assert gate["interval"] == "5m"
    assert exported["sequence"][0] == {"offset": "-24h", "name": "Final staging validation"}
    assert exported["launch"]["target_t0"] == "2027-03-02T15:00:00Z"


def test_reimport_keeps_history_of_gates_matched_by_key(spec):
    _import(spec)
    gate = Gate.objects.get(key="coverage")
    Measurement.objects.create(gate=gate, status=GateStatus.PASSING, value=Decimal("90"))
    spec["gates"][1]["threshold"] = 90
    spec["gates"][1]["name"] = "Line coverage"
    result = _import(spec)
    reloaded = Gate.objects.get(key="coverage")
    assert not result.created
    assert reloaded.pk == gate.pk
    assert (reloaded.name, reloaded.threshold) == ("Line coverage", Decimal("90"))
    assert reloaded.measurements.count() == 1


def test_removed_gates_and_roles_are_reported_and_keep_their_history(spec):
    _import(spec)
    gate = Gate.objects.get(key="runbooks")
    Measurement.objects.create(gate=gate, status=GateStatus.PASSING, value=1)
    del spec["gates"][2]
    del spec["roles"][1]
    result = _import(spec)
    assert result.removed["gates"] == ["runbooks"]
    assert result.removed["roles"] == ["sre-lead"]
    assert "removed gates (retired, history kept): runbooks" in result.summary()
    gate.refresh_from_db()
    assert gate.retired_at is not None
    assert gate.measurements.count() == 1
    assert "runbooks" not in export_launch_spec(gate.launch)
    assert Role.objects.get(key="sre-lead").retired_at is not None


def test_a_retired_gate_returns_when_it_is_back_in_the_spec(spec):
    _import(spec)
    removed = dict(spec)
    removed["gates"] = spec["gates"][:2]
    _import(removed)
    result = _import(spec)
    assert result.added["gates"] == []
    assert Gate.objects.get(key="runbooks").retired_at is None


def test_removed_phases_activities_and_steps_are_reported(spec):
    _import(spec)
    spec["phases"][0]["activities"].pop()
    spec["phases"].pop()
    spec["sequence"].pop()
    result = _import(spec)
    assert result.removed["phases"] == ["2"]
    assert result.removed["activities"] == ["1: Pipelines"]
    assert result.removed["sequence"] == ["T+24h Stability check"]
    assert not Phase.objects.filter(code="2").exists()


def test_added_items_are_reported_on_reimport(spec):
    _import(spec)
    spec["gates"].append(dict(spec["gates"][2], key="war-room", name="War room"))
    result = _import(spec)
    assert "added gates: war-room" in result.summary()


def test_import_launch_command_prints_what_it_did(tmp_path, spec, capsys):
    path = tmp_path / "atlas.yaml"
    path.write_text(to_yaml(spec))
    call_command("import_launch", str(path))
    assert "created launch atlas" in capsys.readouterr().out


def test_export_launch_command_prints_yaml(spec, capsys):
    _import(spec)
    call_command("export_launch", "atlas")
    assert yaml.safe_load(capsys.readouterr().out)["launch"]["slug"] == "atlas"


def test_export_of_an_unknown_launch_is_an_error():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no launch with slug 'nope'"):
        call_command("export_launch", "nope")


class TestTheLlmResearchLabSpec:
    """The launch the portal ships with carries the whole plan."""

    @pytest.fixture
    def exported(self):
        import_launch_spec(raw=DEMO_SPEC.read_bytes(), actor="test")
        return yaml.safe_load(export_launch_spec(Launch.objects.get(slug="llm-research-lab")))

    def test_it_has_the_six_phases_over_ten_weeks(self, exported):
        phases = exported["phases"]
        assert [p["code"] for p in phases] == ["5.1", "5.2", "5.3", "5.4", "5.5", "5.6"]
        assert (phases[0]["start_week"], phases[-1]["end_week"]) == (1, 10)

    def test_it_has_every_appendix_b_activity(self, exported):
        names = {a["name"] for p in exported["phases"] for a in p["activities"]}
        assert len(names) >= 20
        for expected in (
            "Production K8s cluster",
            "Rollback automation",
            "DR drill",
            "Go/No-Go decision",
            "Project closure",
            "Marketing materials",
        ):
            assert expected in names

    def test_it_has_the_key_gates_with_real_sources(self, exported):
        gates = {g["key"]: g for g in exported["gates"]}
        assert len(gates) >= 25
        by_source = {
            s: [g for g in gates.values() if g["source"] == s]
            for s in ("prometheus", "report", "manual")
        }
        assert all(len(v) >= 3 for v in by_source.values())
        rules = {
            (g.get("metric") or g.get("query", ""), g["comparator"], g["threshold"])
            for g in gates.values()
        }
        assert ("coverage.line_percent", ">=", 85) in rules
        assert ("mutation.score_percent", ">=", 70) in rules
        assert any(g["threshold"] == 99.9 and g["source"] == "prometheus" for g in gates.values())

    def test_it_has_the_six_roles_and_the_launch_sequence(self, exported):
        assert [r["key"] for r in exported["roles"]] == [
            "vp-engineering",
            "security-lead",
            "sre-lead",
            "product-vp",
            "legal-counsel",
            "cto-ceo",
        ]
        assert [s["offset"] for s in exported["sequence"]] == [
            "-24h",
            "-12h",
            "-4h",
            "-1h",
            "0h",
            "+24h",
        ]

    def test_every_blocking_gate_is_in_some_role_scope(self, exported):
        covered = {c for r in exported["roles"] for c in r["categories"]}
        blocking = {g["category"] for g in exported["gates"] if g["blocking"]}
        assert blocking <= covered

    def test_it_round_trips(self, exported):
        launch = Launch.objects.get(slug="llm-research-lab")
        first = export_launch_spec(launch)
        import_launch_spec(raw=first, actor="test")
        assert export_launch_spec(launch) == first
