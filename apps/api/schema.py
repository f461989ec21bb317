"""OpenAPI pieces drf-spectacular cannot guess: the token schemes and the error answers."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse

from apps.api.serializers import ErrorSerializer


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """`Authorization: Bearer lp_...`: a per-launch token from the launch's token page."""

    target_class = "apps.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        definition = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
        definition["description"] = (
            "A launch's API token (`lp_...`), bound to that one launch; scopes: `read`, "
            "`ingest`, `manage` (activity updates and the audit log), `audit` (the audit log)."
        )
        return definition


class SecretUrlScheme(OpenApiAuthenticationExtension):
    """Flagger's `?token=`: the token is a query parameter, documented on each webhook, so this
    authentication adds no security scheme of its own."""

    target_class = "apps.api.authentication.QueryTokenAuthentication"
    name: list[str] = []

    def get_security_requirement(self, auto_schema):
        return []

    def get_security_definition(self, auto_schema):
        return []


def error_answer(text: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=text)


UNAUTHENTICATED = error_answer("No credentials, or an unknown, malformed or revoked token.")
FORBIDDEN = error_answer("The token lacks the scope, or the person the right, this needs.")
NOT_FOUND = error_answer("No such object, another launch's, or a page past the end.")
BAD_FILTER = OpenApiResponse(
    OpenApiTypes.OBJECT, description="A query parameter is not valid: `{name: [messages]}`."
)

READ_ERRORS = {401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND}
LIST_ERRORS = {400: BAD_FILTER, **READ_ERRORS}
