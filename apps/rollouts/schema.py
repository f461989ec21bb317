"""OpenAPI for the secret URL of Flagger's webhooks: the token is a query parameter, documented
there, so this authentication adds no security scheme of its own."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class SecretUrlScheme(OpenApiAuthenticationExtension):
    target_class = "apps.rollouts.api.QueryTokenAuthentication"
    name: list[str] = []

    def get_security_requirement(self, auto_schema):
        return []

    def get_security_definition(self, auto_schema):
        return []
