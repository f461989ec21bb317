"""Chat formats: a Slack or Teams subscription is sent a message people can read, through the same
signed, retried delivery; a portal subscription is sent exactly what it always was.

ada (the launch admin) subscribes the team's channels; vera (VP Engineering) signs and records
the Go/No-Go; the receivers on loopback stand in for Slack's and Teams' incoming webhooks.
"""

import json

import pytest

from apps.audit.models import AuditEvent
from apps.launches.models import Launch
from apps.signoffs.models import Role
from apps.signoffs.services import record_decision
from apps.webhooks.models import EventKind, MessageFormat, WebhookSubscription
from apps.webhooks.services import attempt_delivery
from tests.webhooks.conftest import approve, read

pytestmark = pytest.mark.django_db
PAGE = "/launches/atlas/webhooks/"
PORTAL = "https://portal.example.com"
ALL_KINDS = list(EventKind.values)


@pytest.fixture(autouse=True)
def _portal_address(settings):
    settings.PORTAL_BASE_URL = PORTAL


def _subscribe(launch, receiver, fmt: str, events=ALL_KINDS) -> WebhookSubscription:
    return WebhookSubscription.objects.create(
        launch=launch, url=receiver.url, events=events, format=fmt
    )


def _signs(user):
    """The VP Engineering scope's gates pass, then `user` approves it."""
    read("availability", "99.95")
    read("coverage", "91")
    return approve(user)


def _sent(subscription, receiver, kind: str):
    """Deliver the subscription's `kind` delivery; what the receiver got."""
    delivery = subscription.deliveries.get(event_kind=kind)
    attempt_delivery(delivery_id=delivery.pk, attempt=1)
    got = receiver.received[-1]
    assert got.signed_with(subscription.secret)  # the same signed request as the portal format
    assert got.headers["X-Launch-Portal-Event"] == kind
    assert got.headers["X-Launch-Portal-Delivery"] == str(delivery.uuid)
    assert got.json == delivery.payload
    return got.json


def _slack_text(body: dict) -> str:
    (section,) = body["blocks"]
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    return section["text"]["text"]


def _card(body: dict) -> dict:
    assert body["type"] == "message"
    (attachment,) = body["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert {block["type"] for block in card["body"]} == {"TextBlock"}
    return card


def test_a_slack_channel_reads_who_signed_what_with_a_link(launch, people, receivers):
    slack = _subscribe(launch, receivers[0], MessageFormat.SLACK)
    _signs(people["vera"])
    body = _sent(slack, receivers[0], EventKind.SIGNOFF)
    assert body["text"] == "Atlas 2.0.0: VP Engineering approved"
    text = _slack_text(body)
    assert text.startswith("*Atlas 2.0.0: VP Engineering approved*\n")
    assert "*Role:* VP Engineering" in text and "*Decision:* Approved" in text
    assert "*Signed by:* Vera" in text
    assert text.endswith(f"<{PORTAL}/launches/atlas/signoffs/|Open in Launch Portal>")


def test_a_slack_channel_reads_a_gate_changing_status(launch, people, receivers):
    slack = _subscribe(launch, receivers[0], MessageFormat.SLACK, [EventKind.GATE_STATUS])
    read("availability", "99.95")
    read("availability", "90")
    delivery = slack.deliveries.order_by("event_sequence").last()
    attempt_delivery(delivery_id=delivery.pk, attempt=1)
    body = receivers[0].received[-1].json
    assert body["text"] == "Atlas 2.0.0: Gate availability is failing"
    text = _slack_text(body)
    assert "*Gate:* Availability (availability)" in text
    assert "*Status:* failing (was passing)" in text
    assert f"<{PORTAL}/launches/atlas/gates/availability/|Open in Launch Portal>" in text


def test_a_teams_channel_gets_an_adaptive_card_with_the_same_facts(launch, people, receivers):
    teams = _subscribe(launch, receivers[1], MessageFormat.TEAMS)
    _signs(people["vera"])
    card = _card(_sent(teams, receivers[1], EventKind.SIGNOFF))
    texts = [block["text"] for block in card["body"]]
    assert texts[:2] == ["Atlas 2.0.0", "VP Engineering approved"]
    assert {"Role: VP Engineering", "Decision: Approved", "Signed by: Vera"} <= set(texts)
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in Launch Portal",
                                "url": f"{PORTAL}/launches/atlas/signoffs/"}]  # fmt: skip


def test_a_go_over_the_portals_no_go_reads_as_an_override(launch, people, receivers):
    slack = _subscribe(launch, receivers[0], MessageFormat.SLACK, [EventKind.DECISION])
    teams = _subscribe(launch, receivers[1], MessageFormat.TEAMS, [EventKind.DECISION])
    record_decision(launch=launch, user=people["vera"], decision="go", attendees="vera, pat",
                    notes="", override=True, override_reason="risk accepted")  # fmt: skip
    body = _sent(slack, receivers[0], EventKind.DECISION)
    assert body["text"] == "Atlas 2.0.0: Go/No-Go: Go (override)"
    text = _slack_text(body)
    assert "*Portal recommendation:* No-Go" in text and "*Decided by:* Vera" in text
    assert "*Role:* VP Engineering" in text and "*Override reason:* risk accepted" in text
    card = _card(_sent(teams, receivers[1], EventKind.DECISION))
    assert card["body"][1]["text"] == "Go/No-Go: Go (override)"
    assert card["actions"][0]["url"] == f"{PORTAL}/launches/atlas/decision/"


def test_an_invalidation_reads_with_its_reason(launch, people, receivers):
    slack = _subscribe(launch, receivers[0], MessageFormat.SLACK, [EventKind.INVALIDATION])
    _signs(people["vera"])
    read("availability", "90")
    body = _sent(slack, receivers[0], EventKind.INVALIDATION)
    assert body["text"] == "Atlas 2.0.0: VP Engineering's sign-off was invalidated"
    text = _slack_text(body)
    assert "*Decision:* Approved, no longer valid" in text and "*Signed by:* Vera" in text
    assert "*Reason:* gate availability is failing" in text


def test_hostile_names_cannot_ping_a_slack_channel(launch, people, receivers):
    Launch.objects.filter(pk=launch.pk).update(name="Atlas <!here>")
    Role.objects.filter(key="vp-engineering").update(name="VP <Engineering> & Ops")
    vera = people["vera"]
    vera.first_name, vera.last_name = "<!channel>", "Vera & Co"
    vera.save(update_fields=["first_name", "last_name"])
    slack = _subscribe(launch, receivers[0], MessageFormat.SLACK)
    _signs(vera)
    sneaky = "<@U123> says <https://evil.example|ok>"
    record_decision(launch=launch, user=vera, decision="go", attendees="vera", notes="",
                    override=True, override_reason=sneaky)  # fmt: skip
    for kind in (EventKind.SIGNOFF, EventKind.DECISION):
        body = _sent(slack, receivers[0], kind)
        everything = body["text"] + _slack_text(body)
        # The only markup left is the portal's own link.
        assert everything.count("<") == everything.count(">") == 1
        assert "&lt;!here&gt;" in everything and "&lt;!channel&gt; Vera &amp; Co" in everything
    assert "VP &lt;Engineering&gt; &amp; Ops approved" in _slack_text(receivers[0].received[0].json)
    assert "&lt;@U123&gt; says &lt;https://evil.example|ok&gt;" in everything


def test_a_portal_subscription_is_sent_the_same_json_as_before(launch, people, receivers):
    portal = _subscribe(launch, receivers[2], MessageFormat.PORTAL)
    _subscribe(launch, receivers[0], MessageFormat.SLACK)
    signoff = _signs(people["vera"])
    delivery = portal.deliveries.get(event_kind=EventKind.SIGNOFF)
    attempt_delivery(delivery_id=delivery.pk, attempt=1)
    got = receivers[2].received[-1]
    event = AuditEvent.objects.get(chain=delivery.event_chain, sequence=delivery.event_sequence)
    # Today's shape: the audit data without the signer's address, plus role and signer.
    data = {key: value for key, value in event.data.items() if key not in ("ip", "signer_email")}
    expected = {
        "id": str(delivery.uuid),
        "kind": "signoff.signed",
        "launch": "atlas",
        "occurred_at": event.at.isoformat(),
        "data": {**data, "role": "vp-engineering", "signer": "Vera"},
        "audit": {"sequence": event.sequence, "hash": event.hash},
    }
    assert (data["signoff"], data["decision"]) == (signoff.pk, "approve")
    assert got.json == expected
    assert got.body == json.dumps(expected, sort_keys=True, separators=(",", ":")).encode()


def test_without_the_portals_address_no_dead_link_is_sent(launch, people, receivers, settings):
    settings.PORTAL_BASE_URL = ""
    slack = _subscribe(launch, receivers[0], MessageFormat.SLACK)
    teams = _subscribe(launch, receivers[1], MessageFormat.TEAMS)
    _signs(people["vera"])
    assert "<" not in _slack_text(_sent(slack, receivers[0], EventKind.SIGNOFF))
    assert "actions" not in _card(_sent(teams, receivers[1], EventKind.SIGNOFF))


def test_a_chat_message_is_retried_like_any_delivery(launch, people, receivers):
    receivers[0].answer(500, 200)
    slack = _subscribe(launch, receivers[0], MessageFormat.SLACK, [EventKind.SIGNOFF])
    _signs(people["vera"])
    delivery = slack.deliveries.get()
    assert attempt_delivery(delivery_id=delivery.pk, attempt=1) == 10
    assert attempt_delivery(delivery_id=delivery.pk, attempt=2) is None
    first, second = receivers[0].received
    assert first.body == second.body and second.signed_with(slack.secret)
    delivery.refresh_from_db()
    assert (delivery.status, [e["code"] for e in delivery.log]) == ("delivered", [500, 200])


def test_an_admin_picks_the_format_and_the_list_shows_it(client, people, receivers):
    client.force_login(people["ada"])
    page = client.get(PAGE).content.decode()
    for value in ("portal", "slack", "teams"):
        assert f'name="format" value="{value}"' in page
    response = client.post(PAGE, {"url": receivers[0].url, "events": ALL_KINDS, "format": "teams"})
    assert response.status_code == 201
    assert WebhookSubscription.objects.get().format == MessageFormat.TEAMS
    assert "Microsoft Teams incoming webhook</td>" in client.get(PAGE).content.decode()
    client.post(PAGE, {"url": receivers[1].url, "events": ALL_KINDS})  # no format: the portal's
    assert WebhookSubscription.objects.get(url=receivers[1].url).format == MessageFormat.PORTAL
    refused = client.post(PAGE, {"url": receivers[2].url, "events": ALL_KINDS, "format": "irc"})
    assert refused.status_code == 400
    assert not WebhookSubscription.objects.filter(url=receivers[2].url).exists()
