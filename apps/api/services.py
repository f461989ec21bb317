"""API tokens: created with their raw value shown once, stored hashed."""

from django.db import transaction
from django.utils import timezone

from apps.api.models import ApiToken, Scope, hash_token
from apps.audit.services import record


def create_api_token(*, launch, name: str, scopes: list[str], actor) -> tuple[ApiToken, str]:
    """Create a token; return it with the raw value, which is not stored anywhere."""
    launch.refuse_if_closed()  # a closed launch is read-only
    unknown = set(scopes) - set(Scope.values)
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of {', '.join(Scope.values)}")
    raw = ApiToken.generate()
    with transaction.atomic():
        token = ApiToken.objects.create(
            launch=launch, name=name, token_hash=hash_token(raw), prefix=raw[:8], scopes=scopes
        )
        record(
            actor=actor,
            action="api_token.created",
            launch_slug=launch.slug,
            obj_type="api_token",
            obj_key=name,
            data={"scopes": scopes, "prefix": token.prefix},
        )
    return token, raw


def revoke_api_token(*, token: ApiToken, actor) -> ApiToken:
    """Revoke a token at once (its next request is refused); revoking twice changes nothing."""
    token.launch.refuse_if_closed()  # a closed launch is read-only
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().select_related("launch").get(pk=token.pk)
        if token.revoked_at is not None:
            return token
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record(
            actor=actor,
            action="api_token.revoked",
            launch_slug=token.launch.slug,
            obj_type="api_token",
            obj_key=token.name,
            data={"scopes": token.scopes, "prefix": token.prefix},
        )
    return token
