"""Two launches, the people around the first, and tokens.

On atlas: vera holds VP Engineering, pat is the program manager, otto the auditor, ada the
launch admin; nora is assigned to nothing. borealis is another launch nobody here works on.
"""

import copy

import pytest

from apps.api.services import create_api_token
from apps.signoffs.models import Assignment, Duty, Role
from apps.specs.services import import_launch_spec
from tests.helpers import to_yaml
from tests.signoffs.conftest import make_user

API = "/api/v1/launches/"


@pytest.fixture
def launch(spec):
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


@pytest.fixture
def other(spec):
    spec = copy.deepcopy(spec)
    spec["launch"].update(slug="borealis", name="Borealis")
    return import_launch_spec(raw=to_yaml(spec), actor="test").launch


@pytest.fixture
def people(launch):
    people = {name: make_user(name) for name in ("vera", "pat", "otto", "ada", "nora")}
    role = Role.objects.get(launch=launch, key="vp-engineering")
    Assignment.objects.create(launch=launch, user=people["vera"], duty=Duty.SIGNER, role=role)
    Assignment.objects.create(launch=launch, user=people["pat"], duty=Duty.PROGRAM_MANAGER)
    Assignment.objects.create(launch=launch, user=people["otto"], duty=Duty.AUDITOR)
    Assignment.objects.create(launch=launch, user=people["ada"], duty=Duty.ADMIN)
    return people


@pytest.fixture
def make_token(launch):
    """make_token("read", "audit", launch=...) -> the raw token."""
    made = []

    def make(*scopes, launch=launch, name=None) -> str:
        name = name or f"token-{len(made) + 1}"
        made.append(name)
        return create_api_token(launch=launch, name=name, scopes=list(scopes), actor="test")[1]

    return make


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}
