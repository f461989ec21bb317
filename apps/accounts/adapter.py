from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.core.internal.ratelimit import parse_rates
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from apps.accounts.signals import attempted_identifier
from apps.audit.services import record
from portal.http import client_ip

# Without a configured window, a refusal is recorded at most once per address this long.
DEFAULT_WINDOW_SECONDS = 15 * 60


class InviteOnlyAccountAdapter(DefaultAccountAdapter):
    """No open sign-up: people are invited by an admin. Refused sign-ins are audited."""

    def is_open_for_signup(self, request) -> bool:
        return False

    def get_client_ip(self, request) -> str:
        """The address the rate limits count: the portal's one rule (portal.http)."""
        ip = client_ip(request)
        if ip is None:
            raise PermissionDenied("Unable to determine client IP address")  # as allauth does
        return ip

    def pre_authenticate(self, request, **credentials) -> None:
        """allauth's `login_failed` limit refuses here, before the password is checked."""
        try:
            super().pre_authenticate(request, **credentials)
        except ValidationError as exc:
            if exc.code == "too_many_login_attempts":
                audit_rate_limited(request, credentials)
            raise


class InviteOnlySocialAccountAdapter(DefaultSocialAccountAdapter):
    """Single sign-on signs in existing (invited) users only; it never creates accounts."""

    def is_open_for_signup(self, request, sociallogin) -> bool:
        return False


def audit_rate_limited(request, credentials: dict) -> bool:
    """Record `auth.login_rate_limited` (the email tried, the address) once per window.

    An attacker hammering a locked account, or spraying accounts from a blocked address, would
    otherwise write one event per attempt: an event is written only when neither this address nor
    this email had one within the limit's window (the shared cache remembers; `add` is atomic).
    Returns whether an event was written.
    """
    email = attempted_identifier(credentials).lower()
    ip = client_ip(request)
    window = rate_limit_window()
    first_for_ip = cache.add(f"audit:rate-limited:ip:{ip}", 1, window)
    first_for_email = cache.add(f"audit:rate-limited:email:{email}", 1, window)
    if not (first_for_ip and first_for_email):
        return False
    with transaction.atomic():
        record(
            actor="anonymous", action="auth.login_rate_limited", obj_type="login", obj_key=email,
            data={"identifier": email, "ip": ip, "window_seconds": window},
        )  # fmt: skip
    return True


def rate_limit_window() -> int:
    """The longest period of the `login_failed` limits, in seconds."""
    rates = parse_rates((account_settings.RATE_LIMITS or {}).get("login_failed"))
    return int(max((rate.duration for rate in rates), default=DEFAULT_WINDOW_SECONDS))
