"""ada makes a token for Flagger on the tokens page: with the `rollout` scope, the page shows the
four webhook URLs in their `?token=` form, once, marked secret; revoking the token kills them."""

import html
import json
import re

import pytest

from apps.api.models import ApiToken
from tests.rollouts.conftest import launch, launch_spec, people  # noqa: F401 - Atlas with a rollout

pytestmark = pytest.mark.django_db
PAGE = "/launches/atlas/tokens/"
HOOKS = ("confirm-rollout", "confirm-traffic-increase", "confirm-promotion", "rollback")
# Flagger's body as it marshals it (CanaryWebhookPayload), and nothing else: no header of its own.
BODY = json.dumps({"name": "atlas-api", "namespace": "atlas", "phase": "Progressing",
                   "checksum": "6d8f4b9c5"}, separators=(",", ":"))  # fmt: skip


def created(client, *scopes, name="flagger"):
    response = client.post(PAGE, {"name": name, "scopes": list(scopes)})
    assert response.status_code == 201
    return response


def urls_on(page: str) -> dict:
    table = (
        page.split('id="flagger-urls"', 1)[1].split("</table>", 1)[0]
        if "flagger-urls" in page
        else ""
    )
    found = re.findall(r"<tr><td>([a-z-]+)</td><td><code[^>]*>([^<]+)</code>", table)
    return {hook: html.unescape(url) for hook, url in found}


def flagger_calls(client, url: str):
    """POST as Flagger does: its JSON body to the URL, Content-Type and nothing else."""
    return client.post(url, data=BODY, content_type="application/json")


def test_a_rollout_token_shows_the_flagger_urls_once_marked_secret(client, people):  # noqa: F811
    client.force_login(people["ada"])
    response = created(client, "rollout")
    raw = re.search(r'<code id="new-token">(lp_[\w-]+)</code>', response.text).group(1)
    urls = urls_on(response.text)
    assert list(urls) == list(HOOKS)
    for hook, url in urls.items():
        assert url == f"http://testserver/api/v1/launches/atlas/rollout/hooks/{hook}/?token={raw}"
    assert "Each URL is a secret" in response.text
    assert response.headers["Cache-Control"] == "no-store"
    assert raw not in client.get(PAGE).text  # neither the token nor its URLs are shown again


def test_a_token_without_the_rollout_scope_shows_no_urls(client, people):  # noqa: F811
    client.force_login(people["ada"])
    response = created(client, "ingest", "read")
    assert urls_on(response.text) == {} and "?token=" not in response.text


def test_revoking_the_token_makes_its_urls_answer_401(client, people):  # noqa: F811
    client.force_login(people["ada"])
    urls = urls_on(created(client, "rollout").text)
    flagger = client_class_without_session()
    assert flagger_calls(flagger, urls["rollback"]).json()["detail"].startswith("no rollout run")
    # Before: the portal answers (no run, no Go), which Flagger reads as "no", not as refused.
    assert flagger_calls(flagger, urls["rollback"]).status_code == 409
    assert flagger_calls(flagger, urls["confirm-rollout"]).status_code == 403
    token = ApiToken.objects.get(name="flagger")
    assert client.post(f"{PAGE}{token.pk}/revoke/").status_code == 302
    for hook, url in urls.items():
        assert flagger_calls(flagger, url).status_code == 401, hook


def test_a_url_with_a_tampered_token_is_refused(client, people):  # noqa: F811
    client.force_login(people["ada"])
    url = urls_on(created(client, "rollout").text)["rollback"]
    assert flagger_calls(client_class_without_session(), url[:-2] + "xx").status_code == 401


def client_class_without_session():
    from django.test import Client

    return Client()
