"""Who calls the API with a token: `Authorization: Bearer <token>`, or, for Flagger, `?token=`.
Both ask apps.api.tokens.usable_token, the one rule for a usable token."""

import logging

from rest_framework import authentication, exceptions

from apps.api.access import ScopedAccess, deny
from apps.api.models import ApiToken, Scope
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


class QueryTokenAuthentication(authentication.BaseAuthentication):
    """`?token=<token>` on a Flagger webhook's URL, for Flagger, which cannot send a header.

    The query string stays out of the path that refusals are logged and audited with. Another
    launch's token answers 404 and one without the `rollout` scope 403, both audited.
    """

    def authenticate(self, request):
        raw = request.query_params.get("token", "")
        if not raw:
            return None
        token = usable_token(raw)
        if token is None:
            _warn(request, "an unknown or revoked token in the URL")
            raise exceptions.AuthenticationFailed("invalid or revoked token")
        slug = (request.parser_context or {}).get("kwargs", {}).get("slug")
        if token.launch.slug != slug:
            deny(request, token, "the token belongs to another launch")
            raise exceptions.NotFound()
        if Scope.ROLLOUT not in token.scopes:
            deny(request, token, f"needs scope {Scope.ROLLOUT}")
            raise exceptions.PermissionDenied(ScopedAccess.message)
        token.touch()
        return TokenUser(token), token

    def authenticate_header(self, request) -> str:
        return BEARER


def _warn(request, what: str) -> None:
    log.warning(
        "api refused %s %s from %s: %s", request.method, request.path,
        request.META.get("REMOTE_ADDR", ""), what,
    )  # fmt: skip
