"""Who reaches what: token scopes, one launch per token, people as on the pages, denials kept."""

import logging

import pytest

from apps.audit.models import AuditEvent
from tests.api.conftest import API, bearer

pytestmark = pytest.mark.django_db
ATLAS = f"{API}atlas/"
EVERY_READ = ["", "phases/", "activities/", "gates/", "gates/coverage/",
              "gates/coverage/measurements/", "waivers/", "roles/", "signoffs/", "decisions/",
              "readiness/"]  # fmt: skip


def denials():
    return list(AuditEvent.objects.filter(action="api.denied").order_by("sequence"))


def test_an_ingest_token_cannot_read_the_audit_log(client, launch, make_token, caplog):
    token = make_token("ingest", name="github-actions")
    with caplog.at_level(logging.WARNING, logger="apps.api"):
        response = client.get(f"{ATLAS}audit/", headers=bearer(token))
    assert response.status_code == 403
    assert "scope" in response.json()["detail"]
    [event] = denials()
    assert (event.actor_name, event.launch_slug, event.object_key) == (
        "token:github-actions", "atlas", "github-actions",
    )  # fmt: skip
    assert event.data["path"] == "/api/v1/launches/atlas/audit/"
    assert "github-actions" in caplog.text and "/audit/" in caplog.text


@pytest.mark.parametrize("scopes", [("read",), ("ingest",)])
def test_only_audit_and_manage_tokens_read_the_audit_log(client, launch, make_token, scopes):
    assert client.get(f"{ATLAS}audit/", headers=bearer(make_token(*scopes))).status_code == 403
    for allowed in ("audit", "manage"):
        response = client.get(f"{ATLAS}audit/", headers=bearer(make_token(allowed)))
        assert response.status_code == 200


@pytest.mark.parametrize("path", EVERY_READ)
def test_an_ingest_token_reads_nothing(client, launch, make_token, path):
    assert client.get(f"{ATLAS}{path}", headers=bearer(make_token("ingest"))).status_code == 403


@pytest.mark.parametrize("path", [*EVERY_READ, "audit/", "activities/1/"])
def test_a_token_of_one_launch_sees_nothing_of_another(client, launch, other, make_token, path):
    token = make_token("read", "audit", "manage", launch=other, name="borealis-ci")
    response = client.get(f"{ATLAS}{path}", headers=bearer(token))
    assert response.status_code == 404
    [event] = denials()
    assert (event.actor_name, event.launch_slug) == ("token:borealis-ci", "borealis")
    assert event.data["reason"] == "the token belongs to another launch"


def test_another_launchs_activity_cannot_be_changed_through_its_own_url(
    client, launch, other, make_token
):
    """The id of atlas's activity under borealis's URL: 404, nothing changed."""
    activity = launch.phases.get(code="1").activities.get(name="Pipelines")
    token = make_token("manage", launch=other)
    response = client.patch(f"{API}borealis/activities/{activity.pk}/", {"status": "done"},
                            content_type="application/json", headers=bearer(token))  # fmt: skip
    assert response.status_code == 404
    activity.refresh_from_db()
    assert activity.status == "todo"


@pytest.mark.parametrize(
    "header", ["Bearer lp_not-a-real-token", "Token abc", "Bearer ", "Basic dTpw"]
)
def test_unknown_tokens_are_logged_but_not_audited(client, launch, header, caplog):
    with caplog.at_level(logging.WARNING, logger="apps.api"):
        response = client.get(ATLAS, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "api refused" in caplog.text
    assert denials() == []


def test_a_revoked_token_is_refused(client, launch, make_token):
    from apps.api.models import ApiToken
    from apps.api.services import revoke_api_token

    token = make_token("read", name="old")
    assert client.get(ATLAS, headers=bearer(token)).status_code == 200
    revoke_api_token(token=ApiToken.objects.get(name="old"), actor="test")
    assert client.get(ATLAS, headers=bearer(token)).status_code == 401


def test_no_credentials_at_all(client, launch):
    response = client.get(ATLAS)
    assert response.status_code == 401


@pytest.mark.parametrize("person", ["vera", "pat", "otto", "ada"])
def test_people_assigned_to_the_launch_read_it_with_their_session(client, people, person):
    client.force_login(people[person])
    for path in [*EVERY_READ, "audit/"]:
        assert client.get(f"{ATLAS}{path}").status_code == 200, path
    assert [row["slug"] for row in client.get(API).json()["results"]] == ["atlas"]


def test_a_person_not_assigned_sees_nothing(client, people, other):
    client.force_login(people["nora"])
    assert client.get(API).json()["count"] == 0
    for path in [*EVERY_READ, "audit/"]:
        assert client.get(f"{ATLAS}{path}").status_code == 404, path
    assert denials() == []  # people's denials are logged, not audited


def test_staff_see_every_launch(client, launch, other, django_user_model):
    client.force_login(django_user_model.objects.create_user("sue", is_staff=True))
    assert {row["slug"] for row in client.get(API).json()["results"]} == {"atlas", "borealis"}
    assert client.get(f"{API}borealis/gates/").status_code == 200


def test_a_deactivated_persons_session_reads_nothing(client, people):
    client.force_login(people["vera"])
    people["vera"].is_active = False
    people["vera"].save(update_fields=["is_active"])
    assert client.get(ATLAS).status_code in (401, 403)
