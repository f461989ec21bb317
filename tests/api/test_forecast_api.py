"""GET /api/v1/launches/<slug>/forecast/: the readiness forecast's figures, for a read token and
for the people who see the launch; nothing of another launch."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.gates.models import Gate
from apps.gates.services import Reading, record_reading
from tests.api.conftest import API, bearer

pytestmark = pytest.mark.django_db


def test_a_read_token_gets_the_burn_up_and_the_projection(client, launch, make_token):
    gate = Gate.objects.get(launch=launch, key="coverage")
    record_reading(gate=gate, reading=Reading(value=Decimal(90)), actor="test",
                   at=timezone.now() - timedelta(hours=2))  # fmt: skip
    response = client.get(f"{API}atlas/forecast/", headers=bearer(make_token("read")))
    assert response.status_code == 200
    body = response.json()
    assert (body["total"], body["done"], body["left"]) == (4, 1, 3)
    assert (body["gates_left"], body["signoffs_left"]) == (1, 2)
    assert body["t0"] == "2027-03-02" and body["method"].startswith("mean daily net rate")
    today = body["days"][-1]
    assert today["passing"] == 1 and today["pending"] == 1 and today["awaited"] == 2
    assert body["sentence"].endswith("1 blocking gate and 2 sign-offs left "
                                     "(1 gate with no evidence yet).")  # fmt: skip


def test_a_person_on_the_launch_may_read_it_an_outsider_may_not(client, launch, people):
    client.force_login(people["otto"])
    assert client.get(f"{API}atlas/forecast/").status_code == 200
    client.force_login(people["nora"])
    assert client.get(f"{API}atlas/forecast/").status_code == 404


def test_a_token_sees_no_other_launch_and_needs_read(client, launch, other, make_token):
    assert client.get(f"{API}borealis/forecast/",
                      headers=bearer(make_token("read"))).status_code == 404  # fmt: skip
    assert client.get(f"{API}atlas/forecast/",
                      headers=bearer(make_token("ingest"))).status_code == 403  # fmt: skip
