"""Sign-ins and failed sign-ins go to the audit log, each in its own transaction."""

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest

from apps.audit.services import record
from portal.http import client_ip

# An attempted identifier is attacker-chosen text: keep enough to recognise it, no more.
IDENTIFIER_MAX = 100


def attempted_identifier(credentials: dict[str, Any]) -> str:
    """The email or username typed at a failed sign-in, stripped and truncated."""
    for field in ("email", "login", "username"):
        value = credentials.get(field)
        if value:
            return str(value).strip()[:IDENTIFIER_MAX]
    return ""


@receiver(user_login_failed, dispatch_uid="accounts.audit_login_failed")
def audit_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """Record `auth.login_failed` with what was typed (never the password) and from where."""
    identifier = attempted_identifier(credentials)
    with transaction.atomic():
        record(
            actor="anonymous",
            action="auth.login_failed",
            obj_type="login",
            obj_key=identifier,
            data={"identifier": identifier, "ip": client_ip(request)},
        )


@receiver(user_logged_in, dispatch_uid="accounts.audit_login")
def audit_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Record `auth.login`, with the user as actor and the client address."""
    with transaction.atomic():
        record(
            actor=user,
            action="auth.login",
            obj_type="user",
            obj_key=str(user.pk),
            data={"ip": client_ip(request)},
        )
