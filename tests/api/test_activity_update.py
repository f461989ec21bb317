"""The one write of the read API: a program manager's tools change an activity's status."""

import logging

import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.launches.models import Activity
from tests.api.conftest import API, bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def pipelines(launch):
    return Activity.objects.get(phase__launch=launch, name="Pipelines")


def patch(client, activity, body, headers=None):
    return client.patch(f"{API}atlas/activities/{activity.pk}/", body,
                        content_type="application/json", headers=headers or {})  # fmt: skip


def updates():
    return list(AuditEvent.objects.filter(action="activity.updated"))


def test_a_manage_token_changes_the_status_and_it_is_audited(client, pipelines, make_token):
    response = patch(client, pipelines, {"status": "done"}, bearer(make_token("manage", name="pm")))
    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["completed_at"] is not None) == (
        "done", True,
    )  # fmt: skip
    pipelines.refresh_from_db()
    assert pipelines.status == "done" and pipelines.owner == "Platform"
    [event] = updates()
    assert event.actor_name == "token:pm"
    assert event.data["before"]["status"] == "todo" and event.data["after"]["status"] == "done"


def test_a_read_token_may_not_change_anything(client, pipelines, make_token):
    response = patch(client, pipelines, {"status": "done"}, bearer(make_token("read", name="ro")))
    assert response.status_code == 403
    pipelines.refresh_from_db()
    assert pipelines.status == "todo"
    assert updates() == []
    assert AuditEvent.objects.filter(action="api.denied", object_key="ro").count() == 1


def test_not_a_status_is_refused_with_nothing_changed(client, pipelines, make_token):
    headers = bearer(make_token("manage"))
    for body in ({"status": "finished"}, {}, {"status": None}):
        response = patch(client, pipelines, body, headers)
        assert response.status_code == 400
        assert "status" in response.json()
    pipelines.refresh_from_db()
    assert pipelines.status == "todo"
    assert updates() == []


def test_the_program_manager_changes_it_with_a_session(client, pipelines, people):
    client.force_login(people["pat"])
    assert patch(client, pipelines, {"status": "blocked"}).status_code == 200
    [event] = updates()
    assert event.actor == people["pat"]


def test_a_signer_may_not_change_the_timeline(client, pipelines, people, caplog):
    client.force_login(people["vera"])
    with caplog.at_level(logging.WARNING, logger="apps.api"):
        assert patch(client, pipelines, {"status": "done"}).status_code == 403
    assert updates() == []
    assert "vera" in caplog.text and "only the program manager" in caplog.text


def test_a_session_write_needs_the_csrf_token(pipelines, people):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["pat"])
    response = patch(client, pipelines, {"status": "done"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert updates() == []
