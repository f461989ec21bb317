"""Template context for the security headers."""

from django.http import HttpRequest


def csp_nonce(request: HttpRequest) -> dict[str, str]:
    """`csp_nonce` for `<script nonce="{{ csp_nonce }}">`; empty outside the CSP middleware."""
    return {"csp_nonce": getattr(request, "csp_nonce", "")}
