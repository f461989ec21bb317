import logging

from rest_framework import authentication, exceptions

from apps.api.models import ApiToken
from apps.api.tokens import BEARER, bearer_token, usable_token

log = logging.getLogger("apps.api")


class TokenUser:
    """The identity of a request made with an API token (not a person)."""

    is_authenticated = True
    is_active = True
    is_staff = False
    pk = None

    def __init__(self, token: ApiToken):
        self.token = token

    def __str__(self) -> str:
        return f"token:{self.token.name}"

    def get_full_name(self) -> str:
        return f"API token {self.token.name}"

    def get_username(self) -> str:
        return str(self)


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>`; the token is looked up by its SHA-256."""

    keyword = BEARER

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        raw = bearer_token(header)
        if raw == "":
            return None
        if raw is None:
            _warn(request, "a malformed Authorization header")
            raise exceptions.AuthenticationFailed("use Authorization: Bearer <token>")
        token = usable_token(raw)
        if token is None:
            # Logged, not audited: unknown tokens cost an attacker nothing to send.
            _warn(request, f"an unknown or revoked token ({raw[:6]}…)")
            raise exceptions.AuthenticationFailed("invalid or revoked token")
        token.touch()
        return TokenUser(token), token

    def authenticate_header(self, request) -> str:
        return self.keyword


def _warn(request, what: str) -> None:
    log.warning(
        "api refused %s %s from %s: %s", request.method, request.path,
        request.META.get("REMOTE_ADDR", ""), what,
    )  # fmt: skip
