"""The closed-launch middleware and the API ask one rule who holds a usable token (apps.api.tokens).

Atlas is closed. A live token of Atlas hears 409 "This launch is closed" before any view runs. A
revoked, unknown or malformed token, or a token of Borealis, is refused by the middleware exactly
as the API refuses it: it gets the API's own answer, the same as before Atlas closed, and learns
nothing of the closing. (Tokens do not expire; revoking is how one ends.)
"""

import pytest
from django.test import RequestFactory
from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.tokens import presented_token
from apps.launches.models import Launch
from tests.api.conftest import launch, make_token, other  # noqa: F401 - Atlas, Borealis, tokens

pytestmark = pytest.mark.django_db
INGEST = "/api/v1/launches/atlas/reports/"
HOOK = "/api/v1/launches/atlas/rollout/hooks/rollback/"


@pytest.fixture
def tokens(launch, other, make_token):  # noqa: F811
    revoked = make_token("ingest", "rollout")
    ApiToken.objects.filter(launch=launch).update(revoked_at=timezone.now())
    return {
        "live": make_token("ingest", "rollout"),
        "revoked": revoked,
        "borealis": make_token("ingest", "rollout", launch=other),
        "unknown": "lp_" + "x" * 43,
    }


def _answers(client, tokens) -> dict:
    """What each door answers each token: the header on the ingest, `?token=` on a hook."""
    answers = {}
    for name, raw in tokens.items():
        header = client.post(INGEST, {"file": "x"}, headers={"Authorization": f"Bearer {raw}"})
        query = client.post(f"{HOOK}?token={raw}", "{}", content_type="application/json")
        answers[name] = [(r.status_code, r.json()) for r in (header, query)]
    for header in ("Token abc", "Bearer ", "bearer " + tokens["live"]):
        refused = client.post(INGEST, {"file": "x"}, headers={"Authorization": header})
        answers[header] = (refused.status_code, refused.json())
    return answers


def test_a_token_the_api_refuses_learns_nothing_of_the_closing(client, launch, tokens):  # noqa: F811
    before = _answers(client, tokens)
    Launch.objects.filter(pk=launch.pk).update(closed_at=timezone.now())
    after = _answers(client, tokens)
    closed = (409, {"detail": after["live"][0][1]["detail"]})
    assert after.pop("live") == [closed, closed] and "This launch is closed" in closed[1]["detail"]
    before.pop("live")
    assert after == before
    assert {a[0][0] for a in (after["revoked"], after["unknown"])} == {401}
    assert after["borealis"][0][0] == after["borealis"][1][0] == 404
    assert {after[h][0] for h in ("Token abc", "Bearer ", "bearer " + tokens["live"])} == {401}


def test_both_doors_read_the_token_with_the_same_rule(tokens, launch):  # noqa: F811
    factory = RequestFactory()
    held = {
        name: presented_token(factory.post("/", headers={"Authorization": f"Bearer {raw}"}))
        for name, raw in tokens.items()
    }
    assert {name for name, token in held.items() if token} == {"live", "borealis"}
    assert held["live"].launch == launch and held["borealis"].launch.slug == "borealis"
    by_url = presented_token(factory.post(f"/?token={tokens['live']}"))
    assert by_url == held["live"]
    assert presented_token(factory.post("/", headers={"Authorization": "Token abc"})) is None
