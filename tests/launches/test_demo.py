"""The demo loader behind `make run`."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command
from django.core.management.base import CommandError

from apps.gates.models import Gate, GateStatus, Measurement
from apps.launches.models import Launch

pytestmark = pytest.mark.django_db


def test_load_demo_creates_the_launch_users_and_readings(settings, capsys):
    settings.DEBUG = True
    call_command("load_demo")
    assert "pm@example.com" in capsys.readouterr().out
    launch = Launch.objects.get(slug="llm-research-lab")
    for email in (
        "vp-engineering@example.com",
        "cto-ceo@example.com",
        "pm@example.com",
        "auditor@example.com",
        "admin@example.com",
    ):
        assert authenticate(username=email.split("@")[0], password="launch-demo") is not None
    measured = launch.gates.filter(measurements__isnull=False).distinct().count()
    assert Measurement.objects.count() == measured * 6
    assert launch.gates.filter(source="manual", measurements__isnull=True).exists()  # pending
    statuses = {g.current_status()[0] for g in Gate.objects.filter(launch=launch)}
    assert {GateStatus.PASSING, GateStatus.FAILING} <= statuses


def test_load_demo_twice_keeps_existing_data(settings):
    settings.DEBUG = True
    call_command("load_demo")
    Gate.objects.filter(key="code-coverage").update(name="Renamed by a person")
    count = Measurement.objects.count()
    call_command("load_demo")
    assert Measurement.objects.count() == count
    assert Gate.objects.filter(name="Renamed by a person").exists()


def test_load_demo_refuses_to_run_in_production(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG must be on"):
        call_command("load_demo")
    assert not Launch.objects.exists()


def test_demo_readings_respect_each_gate_rule(settings):
    settings.DEBUG = True
    call_command("load_demo")
    from apps.gates.rules import verdict

    for m in Measurement.objects.select_related("gate").exclude(value=None)[:200]:
        expected = verdict(comparator=m.gate.comparator, threshold=m.gate.threshold, value=m.value)
        assert m.status == expected.status
