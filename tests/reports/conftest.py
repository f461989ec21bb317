"""Fixtures for the packet and export stories."""

import pytest
from django.contrib.auth import get_user_model

from apps.signoffs.models import Assignment, Duty


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def demo(settings, media):
    """The LLM-Research-Lab demo launch with its people (password launch-demo)."""
    from apps.demo.loader import load_demo
    from apps.launches.models import Launch

    settings.DEBUG = True
    load_demo()
    return Launch.objects.get(slug="llm-research-lab")


@pytest.fixture
def outsider(demo):
    return get_user_model().objects.create_user("nora", "nora@example.com", "pw-nora-123")


def user_with(launch, username: str, duty: str):
    """A fresh user holding `duty` on `launch` (signer duty takes the launch's first role)."""
    user = get_user_model().objects.create_user(username, f"{username}@example.com", "pw-12345")
    role = launch.roles.first() if duty == Duty.SIGNER else None
    Assignment.objects.create(launch=launch, user=user, duty=duty, role=role)
    return user


@pytest.fixture
def atlas(spec, media):
    """The small Atlas launch (three gates, two roles) with one reading per gate."""
    from decimal import Decimal

    from apps.gates.evidence import store_evidence
    from apps.gates.models import Gate
    from apps.gates.services import Reading, record_reading
    from apps.specs.services import import_launch_spec
    from tests.helpers import to_yaml

    spec["sources"] = []
    del spec["gates"][0]["prometheus"]
    launch = import_launch_spec(raw=to_yaml(spec), actor="test").launch
    evidence = store_evidence(data=b"<testsuite tests='3'/>", name="junit.xml")
    for key, value in (("availability", "99.95"), ("coverage", "91"), ("runbooks", "1")):
        reading = Reading(value=Decimal(value), evidence=evidence if key == "coverage" else None)
        record_reading(gate=Gate.objects.get(launch=launch, key=key), reading=reading, actor="test")
    return launch


def approve_all(launch, *, comment: str = "", printed_name: str = "Vera Example"):
    """A valid approval for every role of the launch, bound to its current snapshot."""
    from django.utils import timezone

    from apps.signoffs.models import SignOff
    from apps.signoffs.snapshot import take_snapshot

    now = timezone.now()
    for role in launch.roles.all():
        snapshot = take_snapshot(role, now)
        SignOff.objects.create(
            launch=launch,
            role=role,
            printed_name=printed_name,
            decision="approve",
            comment=comment,
            meaning=f"I, {printed_name}, approve as {role.name}.",
            digest=snapshot.digest,
            snapshot=snapshot.data,
            signed_at=now,
        )


@pytest.fixture
def signer(atlas):
    """A signer on Atlas: sees the launch, may not export."""
    return user_with(atlas, "vera", Duty.SIGNER)


@pytest.fixture
def auditor(atlas):
    return user_with(atlas, "otto", Duty.AUDITOR)
