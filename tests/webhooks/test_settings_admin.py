"""WEBHOOK_* settings refuse bad values at start-up; the admin lists webhooks read-only."""

import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model

from apps.webhooks.models import EventKind, WebhookSubscription
from tests.helpers import ROOT
from tests.webhooks.conftest import read


def _settings(**env) -> subprocess.CompletedProcess:
    """Load the settings in a fresh interpreter with no WEBHOOK_* variable but these."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("WEBHOOK_")}
    environment = {**base, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "portal.settings", **env}
    code = "import django; django.setup(); from django.conf import settings as s;"
    code += " print(s.WEBHOOK_RETRY_DELAYS, s.WEBHOOK_CONNECT_TIMEOUT, s.WEBHOOK_READ_TIMEOUT)"
    return subprocess.run(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True
    )


def test_the_defaults_are_five_attempts_with_short_timeouts():
    started = _settings()
    assert started.stdout.strip() == "[10, 30, 90, 270] 3 5", started.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WEBHOOK_RETRY_DELAYS": "10,ten"}, "WEBHOOK_RETRY_DELAYS: ['10', 'ten'] must be whole"),
        ({"WEBHOOK_RETRY_DELAYS": "-5"}, "WEBHOOK_RETRY_DELAYS"),
        ({"WEBHOOK_RETRY_DELAYS": "10,4000"}, "below CELERY_VISIBILITY_TIMEOUT (3600s)"),
        ({"WEBHOOK_RETRY_DELAYS": "100", "CELERY_VISIBILITY_TIMEOUT": "100"}, "(100s)"),
        ({"WEBHOOK_READ_TIMEOUT": "0"}, "WEBHOOK_READ_TIMEOUT: 0 is below the minimum of 1"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(env, message):
    started = _settings(**env)
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and message in started.stderr


@pytest.mark.django_db
def test_the_admin_lists_webhooks_read_only_and_never_the_secret(client, launch, receivers):
    subscription = WebhookSubscription.objects.create(
        launch=launch, url=receivers[0].url, events=list(EventKind.values)
    )
    read("availability", "99.95")
    delivery = subscription.deliveries.get()
    root = get_user_model().objects.create_superuser("root", "root@example.com", "x")
    client.force_login(root)
    for path in (
        "/admin/webhooks/webhooksubscription/",
        f"/admin/webhooks/webhooksubscription/{subscription.pk}/change/",
        "/admin/webhooks/webhookdelivery/",
        f"/admin/webhooks/webhookdelivery/{delivery.pk}/change/",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert subscription.secret not in response.content.decode()
    assert client.get("/admin/webhooks/webhookdelivery/add/").status_code == 403
    response = client.post(
        f"/admin/webhooks/webhooksubscription/{subscription.pk}/change/", {"active": ""}
    )
    assert response.status_code == 403
    subscription.refresh_from_db()
    assert subscription.active
