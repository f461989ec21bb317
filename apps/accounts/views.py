import logging

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

security_log = logging.getLogger("portal.security")


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    """Every denial is logged: who, what, from where (the audit chain is for state changes)."""
    security_log.warning(
        "denied %s %s to %s from %s: %s", request.method, request.path,
        getattr(request.user, "username", "") or "anonymous",
        request.META.get("REMOTE_ADDR", ""), exception or "",
    )  # fmt: skip
    return render(request, "403.html", {"exception": exception}, status=403)
