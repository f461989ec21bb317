"""A Go against the portal's NO-GO reaches subscribers marked as an override, with its reason."""

import pytest

from apps.signoffs.services import record_decision
from apps.webhooks.models import EventKind, WebhookSubscription

pytestmark = pytest.mark.django_db


def test_a_launch_decided_delivery_carries_the_override(launch, people):
    subscription = WebhookSubscription.objects.create(
        launch=launch, url="http://127.0.0.1:18201/hook", events=[EventKind.DECISION]
    )
    made = record_decision(launch=launch, user=people["vera"], decision="go", attendees="vera",
                           notes="", override=True, override_reason="risk accepted")  # fmt: skip
    data = subscription.deliveries.get().payload["data"]
    assert (data["decision"], data["recommendation"]) == ("go", "no-go")
    assert (data["override"], data["override_reason"]) == (True, "risk accepted")
    assert data["decision_id"] == made.pk and data["decided_by"] == "Vera"
