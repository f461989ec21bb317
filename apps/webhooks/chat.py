"""Chat messages for webhooks: an event in words, laid out for Slack or Microsoft Teams. Pure.

`describe` turns an event's delivery data into a `Notice`; `slack` and `teams` lay a notice out
as the body the tool's incoming webhook takes. Names, reasons and conditions are typed by people:
Slack reads `&`, `<` and `>` as markup (`<!channel>` notifies a whole channel), so they are
escaped there.
"""

from dataclasses import dataclass

from apps.signoffs.models import GoNoGo
from apps.signoffs.notifications import DECISION_WORDS

LINK_TITLE = "Open in Launch Portal"
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
# Slack refuses a section whose text passes 3,000 characters: each typed value is cut well below.
VALUE_LIMIT = 300


@dataclass(frozen=True)
class Notice:
    """What a chat message says: the launch, a headline, labelled facts, and an absolute link
    to the page that shows the change ("" when the portal's address is not configured)."""

    launch: str
    headline: str
    facts: tuple[tuple[str, str], ...]
    link: str


def describe(kind: str, data: dict, *, launch: str, subject: str, actor: str, link: str) -> Notice:
    """`kind`'s event in words; `subject` is the name of its gate or role, `actor` who made it."""
    headline, facts = WORDS[kind](data, subject, actor)
    kept = tuple((label, _clip(str(value))) for label, value in facts if value)
    return Notice(launch=launch, headline=headline, facts=kept, link=link)


def _gate_changed(data: dict, name: str, actor: str) -> tuple[str, list]:
    key, status = data.get("key", ""), data.get("status") or data.get("to", "")
    was = f" (was {data['from']})" if data.get("from") else ""
    facts = [("Gate", f"{name} ({key})"), ("Status", f"{status}{was}"),
             ("Reason", data.get("reason")), ("Recorded by", actor)]  # fmt: skip
    return f"Gate {key} is {status}", facts


def _signed(data: dict, role: str, actor: str) -> tuple[str, list]:
    decision = _decision_words(data.get("decision"))
    facts = [("Role", role), ("Decision", decision), ("Signed by", _person(data, "signer")),
             ("Conditions", "; ".join(data.get("conditions") or []))]  # fmt: skip
    return f"{role} {decision.lower()}", facts


def _invalidated(data: dict, role: str, actor: str) -> tuple[str, list]:
    decision = _decision_words(data.get("decision"))
    facts = [("Role", role), ("Decision", f"{decision}, no longer valid"),
             ("Signed by", data.get("signer")), ("Reason", data.get("reason"))]  # fmt: skip
    return f"{role}'s sign-off was invalidated", facts


def _decided(data: dict, role: str, actor: str) -> tuple[str, list]:
    decision = _go_words(data.get("decision"))
    override = " (override)" if data.get("override") else ""
    facts = [("Decision", decision + override),
             ("Portal recommendation", _go_words(data.get("recommendation"))),
             ("Decided by", _person(data, "decided_by")), ("Role", role),
             ("Override reason", data.get("override_reason"))]  # fmt: skip
    return f"Go/No-Go: {decision}{override}", facts


def _requested(data: dict, role: str, actor: str) -> tuple[str, list]:
    due = (data.get("due_at") or "")[:16].replace("T", " ")
    facts = [("Role", role), ("Due", f"{due} UTC" if due else ""),
             ("Requested by", data.get("requested_by") or actor),
             ("Message", data.get("message"))]  # fmt: skip
    return f"Sign-off requested from {role}", facts


def _run_started(data: dict, subject: str, actor: str) -> tuple[str, list]:
    stages = " → ".join(data.get("stages") or [])
    driver = "the deploy tool" if data.get("driver") == "deploy_tool" else "the portal"
    facts = [("Run", data.get("run")), ("Stages", stages), ("Moved on by", driver),
             ("Canary revision", data.get("checksum")),
             ("Started by", data.get("started_by") or actor)]  # fmt: skip
    return f"Rollout run {data.get('run', '')} started", facts


def _stage_failed(data: dict, subject: str, actor: str) -> tuple[str, list]:
    stage = data.get("stage", "")
    facts = [("Run", data.get("run")), ("Stage", stage), ("Reason", data.get("reason"))]
    return f"Rollout stage {stage} failed: the run rolls back", facts


def _rolled_back(data: dict, subject: str, actor: str) -> tuple[str, list]:
    facts = [("Run", data.get("run")), ("Stage", data.get("stage")),
             ("Reason", data.get("reason")),
             ("Recorded by", data.get("rolled_back_by") or actor)]  # fmt: skip
    return f"Rollback: run {data.get('run', '')}", facts


def _closed(data: dict, subject: str, actor: str) -> tuple[str, list]:
    facts = [("Closed by", data.get("closed_by") or actor),
             ("Post-launch validation", data.get("post_launch")),
             ("Reason", data.get("reason"))]  # fmt: skip
    return "Launch closed: it is read-only now", facts


WORDS = {
    "gate.status_changed": _gate_changed,
    "signoff.signed": _signed,
    "signoff.invalidated": _invalidated,
    "launch.decided": _decided,
    "signoff.requested": _requested,
    "rollout.started": _run_started,
    "rollout.stage_failed": _stage_failed,
    "rollout.rollback": _rolled_back,
    "launch.closed": _closed,
}


def _decision_words(decision: str | None) -> str:
    return DECISION_WORDS.get(decision, decision or "unknown decision")


def _go_words(decision: str | None) -> str:
    return GoNoGo(decision).label if decision in GoNoGo.values else (decision or "")


def _person(data: dict, field: str) -> str:
    name, holder = data.get(field) or "", data.get("on_behalf_of")
    return f"{name} for {holder}" if holder else name


def _clip(text: str) -> str:
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


# --- layouts -----------------------------------------------------------------------------------


def slack(notice: Notice) -> dict:
    """Slack's incoming-webhook body: `text` (the notification line) and one mrkdwn section."""
    lines = [f"*{escape_mrkdwn(notice.launch)}: {escape_mrkdwn(notice.headline)}*"]
    lines += [f"*{label}:* {escape_mrkdwn(value)}" for label, value in notice.facts]
    if notice.link:
        lines.append(f"<{notice.link}|{LINK_TITLE}>")
    return {
        "text": escape_mrkdwn(f"{notice.launch}: {notice.headline}"),
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters as entities (`&` first, so entities stay intact)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def teams(notice: Notice) -> dict:
    """A Teams incoming-webhook message carrying one Adaptive Card (1.4), with an OpenUrl
    action to the portal page."""
    body = [
        {"type": "TextBlock", "text": notice.launch, "size": "Medium", "weight": "Bolder",
         "wrap": True},
        {"type": "TextBlock", "text": notice.headline, "weight": "Bolder", "wrap": True},
    ]  # fmt: skip
    body += [
        {"type": "TextBlock", "text": f"{label}: {value}", "wrap": True, "spacing": "Small"}
        for label, value in notice.facts
    ]
    card = {"type": "AdaptiveCard", "version": "1.4", "$schema": ADAPTIVE_CARD_SCHEMA, "body": body}
    if notice.link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": LINK_TITLE, "url": notice.link}]
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
    return {"type": "message", "attachments": [attachment]}
