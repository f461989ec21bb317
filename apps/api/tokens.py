"""Who holds a usable token: the one rule, asked by the API's authentication, Flagger's `?token=`
and the closed-launch middleware (apps.api.middleware), so that a revoked, unknown or
malformed token is refused the same way by every door."""

from apps.api.models import ApiToken, hash_token
from portal.prepared import PreparedQuery

BEARER = "Bearer"


def bearer_token(header: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; "" without a header, None for a
    malformed one (another scheme, no token)."""
    if not header:
        return ""
    keyword, _, raw = header.partition(" ")
    if keyword != BEARER or not raw.strip():
        return None
    return raw.strip()


def usable_token(raw: str) -> ApiToken | None:
    """The live (not revoked) token `raw` names, with its launch; None for any other string."""
    if not raw:
        return None
    return _USABLE_NAMED.first(token_hash=hash_token(raw))


# usable_token()'s read, asked by every API request: built once per process (portal.prepared).
_USABLE_NAMED = PreparedQuery(
    lambda token_hash: (
        ApiToken.objects.usable()
        .select_related("launch")
        .filter(token_hash=token_hash)
        .order_by("pk")[:1]
    ),
    token_hash=str,
)


def presented_token(request) -> ApiToken | None:
    """The usable token a request carries: in `?token=` (Flagger sends no header), otherwise in
    its Authorization header; None for none, a malformed header or an unusable token."""
    raw = request.GET.get("token") or bearer_token(request.headers.get("Authorization", ""))
    return usable_token(raw) if raw else None
