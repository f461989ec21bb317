"""Fixtures of the launch pages' and the specs' tests (tests/pages, tests/specs: their conftest
imports them): Atlas as the spec describes it, and its program manager signed in. A module that
needs another launch or person defines its own."""

import pytest
from django.contrib.auth import get_user_model

from apps.signoffs.models import Assignment, Duty
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


@pytest.fixture
def pm(client, launch):
    user = get_user_model().objects.create_user("pat", "pat@example.com", "pw")
    Assignment.objects.create(launch=launch, user=user, duty=Duty.PROGRAM_MANAGER)
    client.force_login(user)
    return user
