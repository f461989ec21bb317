"""The webhooks page: launch admins subscribe and deactivate URLs; nobody else sees it."""

import html

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.audit.models import AuditEvent
from apps.launches.models import Launch
from apps.webhooks.models import EventKind, WebhookDelivery, WebhookSubscription
from tests.webhooks.conftest import read

pytestmark = pytest.mark.django_db
PAGE = "/launches/atlas/webhooks/"
ALL_KINDS = list(EventKind.values)


def _subscribe(client, url, events=ALL_KINDS):
    return client.post(PAGE, {"url": url, "events": events})


def test_an_admin_subscribes_and_sees_the_secret_once(client, people, receivers):
    client.force_login(people["ada"])
    response = _subscribe(client, receivers[0].url, [EventKind.GATE_STATUS, EventKind.DECISION])
    assert response.status_code == 201
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret.startswith("whsec_") and len(subscription.secret) > 40
    assert subscription.secret in response.content.decode()
    assert subscription.events == ["gate.status_changed", "launch.decided"]
    assert (subscription.created_by, subscription.active) == (people["ada"], True)
    event = AuditEvent.objects.get(action="webhook.created")
    assert (event.actor, event.object_key) == (people["ada"], str(subscription.pk))
    # The URL may carry a receiver's token: the audit log keeps only its host.
    assert event.data == {"host": "127.0.0.1", "events": subscription.events}
    later = client.get(PAGE).content.decode()
    assert receivers[0].url.replace("&", "&amp;") in later and subscription.secret not in later


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://hooks.example.net/launch", "host hooks.example.net:443 is not on the allowlist"),
        ("http://127.0.0.1:5432/", "host 127.0.0.1:5432 is not on the allowlist"),
        ("http://169.254.169.254/latest/meta-data/", "is not on the allowlist"),
        ("http://localhost:18201/", "host localhost:18201 is not on the allowlist"),
        ("ftp://127.0.0.1:18201/", "scheme 'ftp' is not allowed; only http and https are"),
        ("file:///etc/passwd", "Enter a valid URL."),
        ("gopher://127.0.0.1:18201/", "Enter a valid URL."),
    ],
)
def test_a_url_off_the_allowlist_is_refused_and_nothing_saved(client, people, receivers, url, why):
    client.force_login(people["ada"])
    response = _subscribe(client, url)
    assert response.status_code == 400
    assert why in html.unescape(response.content.decode())
    assert not WebhookSubscription.objects.exists()
    assert not AuditEvent.objects.filter(action="webhook.created").exists()


def test_a_subscription_needs_an_event_kind(client, people, receivers):
    client.force_login(people["ada"])
    response = _subscribe(client, receivers[0].url, [])
    assert response.status_code == 400 and not WebhookSubscription.objects.exists()
    response = _subscribe(client, receivers[0].url, ["measurement.recorded"])
    assert response.status_code == 400 and not WebhookSubscription.objects.exists()


def test_an_admin_deactivates_a_subscription(client, people, launch, receivers):
    subscription = WebhookSubscription.objects.create(
        launch=launch, url=receivers[0].url, events=ALL_KINDS
    )
    client.force_login(people["ada"])
    url = f"{PAGE}{subscription.pk}/deactivate/"
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 302  # twice: audited once
    subscription.refresh_from_db()
    assert not subscription.active and subscription.deactivated_at is not None
    (event,) = AuditEvent.objects.filter(action="webhook.deactivated")
    assert (event.actor, event.object_key) == (people["ada"], str(subscription.pk))
    read("availability", "99.95")
    assert not WebhookDelivery.objects.exists()
    assert "Deactivate</button>" not in client.get(PAGE).content.decode()


@pytest.mark.parametrize("who", ["vera", "pat"])
def test_people_of_the_launch_who_are_not_its_admins_get_403(client, people, launch, who):
    subscription = WebhookSubscription.objects.create(
        launch=launch, url="http://127.0.0.1:18201/", events=ALL_KINDS
    )
    client.force_login(people[who])
    assert client.get(PAGE).status_code == 403
    assert _subscribe(client, "http://127.0.0.1:18201/").status_code == 403
    assert client.post(f"{PAGE}{subscription.pk}/deactivate/").status_code == 403
    assert WebhookSubscription.objects.filter(active=True).count() == 1
    assert not AuditEvent.objects.filter(action__startswith="webhook.").exists()


def test_an_outsider_and_anonymous_do_not_see_the_page(client, people):
    assert client.get(PAGE).status_code == 302  # to the sign-in page
    client.force_login(people["nora"])
    assert client.get(PAGE).status_code == 404
    assert _subscribe(client, "http://127.0.0.1:18201/").status_code == 404
    assert not WebhookSubscription.objects.exists()


def test_another_launchs_subscription_is_not_found_here(client, people, launch, spec):
    other = Launch.objects.create(
        slug="zephyr", name="Zephyr", version="1", target_t0=launch.target_t0,
        start_date=launch.start_date,
    )  # fmt: skip
    theirs = WebhookSubscription.objects.create(
        launch=other, url="http://127.0.0.1:18201/", events=ALL_KINDS
    )
    client.force_login(people["ada"])
    assert client.get("/launches/zephyr/webhooks/").status_code == 404  # ada is not assigned there
    assert client.post(f"{PAGE}{theirs.pk}/deactivate/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.active
    assert "18201" not in client.get(PAGE).content.decode()


def test_the_page_lists_subscriptions_and_deliveries_in_constant_queries(
    client, people, launch, receivers
):
    client.force_login(people["ada"])

    def page_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = client.get(PAGE)
        assert response.status_code == 200
        return len(ctx.captured_queries)

    for receiver in receivers:
        WebhookSubscription.objects.create(
            launch=launch, url=receiver.url, events=ALL_KINDS, created_by=people["ada"]
        )
    read("availability", "99.95")
    few = page_queries()
    for value in ("90", "99.95", "90", "99.95"):
        read("availability", value)
    assert WebhookDelivery.objects.count() == 15
    # session, user, launch (with the assignment and admin checks), subscriptions with their
    # creators, deliveries with their subscriptions
    assert few == page_queries() == 5
    page = client.get(PAGE).content.decode()
    assert page.count('<span class="muted small">#') == 15 and "pending" in page
