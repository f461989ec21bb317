"""The demo loader behind `make run`."""

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from apps.gates.models import Gate, GateStatus, Measurement, Waiver
from apps.launches.models import Launch
from apps.signoffs.snapshot import take_snapshot

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
    polled = launch.gates.exclude(source="manual").count()
    attested = launch.gates.filter(source="manual", measurements__isnull=False).distinct()
    assert Measurement.objects.count() == polled * 6 + attested.count()
    assert launch.gates.filter(source="manual", measurements__isnull=True).exists()  # pending
    statuses = {g.current_status()[0] for g in Gate.objects.filter(launch=launch)}
    assert {GateStatus.PASSING, GateStatus.FAILING, GateStatus.WAIVED} <= statuses


def test_the_demo_stays_signable_by_every_role(settings):
    """Its attestations and its waiver come from people who sign nothing they produced."""
    settings.DEBUG = True
    call_command("load_demo")
    launch = Launch.objects.get(slug="llm-research-lab")
    attesters = {m.source_detail.get("attested_by") for m in Measurement.objects.filter(
        gate__source="manual")}  # fmt: skip
    assert attesters == {"Quinn Adams", "Sasha Ivanova"}
    waiver = Waiver.objects.get()
    assert (waiver.requested_by.username, waiver.granted_by.username) == ("pm", "cto-ceo")
    now = timezone.now()
    for role in launch.roles.filter(retired_at__isnull=True):
        holder = get_user_model().objects.get(username=role.key)
        assert take_snapshot(role, now).produced_by(holder) == [], role.key


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
