"""Content-Security-Policy with a fresh nonce per request.

Scripts run only from our own origin or when they carry the request's nonce
(`<script nonce="{{ csp_nonce }}">`); there is no 'unsafe-inline' for scripts.
"""

import secrets
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"


def content_security_policy(nonce: str) -> str:
    """The policy for one response, allowing inline scripts that carry `nonce`."""
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
    return "; ".join(directives)


class ContentSecurityPolicyMiddleware:
    """Give each request `request.csp_nonce` and each response the policy naming it.

    A response that already carries a policy (a view that needs another one) keeps it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        if HEADER not in response.headers:
            response.headers[HEADER] = content_security_policy(request.csp_nonce)
        return response
