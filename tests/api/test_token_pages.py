"""The launch's API tokens page: ada (launch admin) creates and revokes; others may not."""

import re

import pytest

from apps.api.models import ApiToken, hash_token
from apps.audit.models import AuditEvent
from tests.api.conftest import API, bearer

pytestmark = pytest.mark.django_db
PAGE = "/launches/atlas/tokens/"


def create(client, name="github-actions", scopes=("ingest", "read")):
    return client.post(PAGE, {"name": name, "scopes": list(scopes)})


def test_an_admin_creates_a_token_and_sees_it_once(client, people):
    client.force_login(people["ada"])
    response = create(client)
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    raw = re.search(r'<code id="new-token">(lp_[\w-]+)</code>', response.text).group(1)
    token = ApiToken.objects.get(name="github-actions")
    assert token.token_hash == hash_token(raw) and token.scopes == ["ingest", "read"]
    event = AuditEvent.objects.get(action="api_token.created", object_key="github-actions")
    assert event.actor == people["ada"]
    listed = client.get(PAGE)
    assert "github-actions" in listed.text and token.prefix in listed.text
    assert raw not in listed.text  # shown once
    assert client.get(f"{API}atlas/", headers=bearer(raw)).status_code == 200


def test_a_duplicate_name_or_no_scope_is_refused_with_nothing_made(client, people):
    client.force_login(people["ada"])
    assert create(client).status_code == 201
    assert create(client).status_code == 400
    assert create(client, name="other", scopes=()).status_code == 400
    assert create(client, name="other", scopes=("root",)).status_code == 400
    assert ApiToken.objects.count() == 1
    assert AuditEvent.objects.filter(action="api_token.created").count() == 1


def test_an_admin_revokes_a_token_and_it_stops_working(client, people, make_token):
    raw = make_token("read", name="old-ci")
    token = ApiToken.objects.get(name="old-ci")
    client.force_login(people["ada"])
    response = client.post(f"{PAGE}{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    event = AuditEvent.objects.get(action="api_token.revoked")
    assert (event.actor, event.object_key, event.launch_slug) == (people["ada"], "old-ci", "atlas")
    assert client.get(f"{API}atlas/", headers=bearer(raw)).status_code == 401
    page = client.get(PAGE).text
    assert "revoked" in page
    client.post(f"{PAGE}{token.pk}/revoke/")  # twice: nothing new
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_staff_manage_tokens_too(client, launch, django_user_model):
    client.force_login(django_user_model.objects.create_user("sue", is_staff=True))
    assert client.get(PAGE).status_code == 200
    assert create(client).status_code == 201


@pytest.mark.parametrize("person", ["vera", "pat", "otto"])
def test_people_who_are_not_admins_are_refused(client, people, make_token, person):
    make_token("read", name="ci")
    token = ApiToken.objects.get(name="ci")
    client.force_login(people[person])
    assert client.get(PAGE).status_code == 403
    assert create(client).status_code == 403
    assert client.post(f"{PAGE}{token.pk}/revoke/").status_code == 403
    token.refresh_from_db()
    assert token.revoked_at is None and ApiToken.objects.count() == 1


def test_an_outsider_sees_no_such_page(client, people):
    client.force_login(people["nora"])
    assert client.get(PAGE).status_code == 404
    assert create(client).status_code == 404


def test_another_launchs_token_cannot_be_revoked_from_this_launch(client, people, other,
                                                                 make_token):  # fmt: skip
    make_token("read", launch=other, name="borealis-ci")
    token = ApiToken.objects.get(name="borealis-ci")
    client.force_login(people["ada"])
    assert client.post(f"{PAGE}{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_the_page_lists_tokens_in_constant_queries(client, people, make_token,
                                                   django_assert_max_num_queries):  # fmt: skip
    client.force_login(people["ada"])
    for i in range(3):
        make_token("read", name=f"a{i}")
    with django_assert_max_num_queries(12) as few:
        client.get(PAGE)
    for i in range(20):
        make_token("read", name=f"b{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(PAGE).text.count("<tr>") == 24  # header + 23 tokens
