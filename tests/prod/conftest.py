"""The Atlas launch, a signer, and /metrics read from a clean slate."""

import pytest
from django.contrib.auth import get_user_model

from apps.signoffs.models import Assignment, Duty, Role
from apps.specs.services import import_launch_spec
from portal import metrics
from tests.helpers import to_yaml


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


@pytest.fixture
def vera(launch):
    """VP Engineering's signer on Atlas."""
    user = get_user_model().objects.create_user(
        "vera", "vera@example.com", "correct horse battery", first_name="Vera"
    )
    role = Role.objects.get(launch=launch, key="vp-engineering")
    Assignment.objects.create(launch=launch, user=user, duty=Duty.SIGNER, role=role)
    return user


@pytest.fixture(autouse=True)
def _fresh_totals():
    """Totals kept by an earlier test counted rows its rolled-back transaction took away."""
    metrics.MEASUREMENTS.reset()
    metrics.STATUS_CHANGES.reset()
