"""Request ids and the access log.

Each request gets an id: the caller's `X-Request-ID` when it is well-formed (a proxy or a client
that already logs one), else a new one. It is sent back in `X-Request-ID`, set on every log record
written while the request runs (portal.logging.ContextFilter), and ends the request in one access
log line: method, path, status, duration, user id, request id.
"""

import logging
import re
import time
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import empty

from portal.logging import request_id

HEADER = "X-Request-ID"
# Letters, digits and . _ : - only: the id goes into logs and headers as it came.
WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
# URL parts that are secrets (the calendar feed token, allauth's password-reset key).
SECRET_KWARGS = ("token", "key", "uidb36")

access_log = logging.getLogger("portal.access")


def incoming_request_id(request: HttpRequest) -> str:
    """The caller's X-Request-ID when well-formed; otherwise a new random id."""
    given = request.headers.get(HEADER, "")
    return given if WELL_FORMED.fullmatch(given) else uuid.uuid4().hex


class RequestIdMiddleware:
    """Give each request an id, log with it, answer with it, and write the access line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = incoming_request_id(request)
        request.request_id = rid
        token = request_id.set(rid)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response.headers[HEADER] = rid
            _log_access(request, response, time.perf_counter() - started)
            return response
        finally:
            request_id.reset(token)


def _log_access(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    duration_ms = round(seconds * 1000, 1)
    path = logged_path(request)
    access_log.info(
        "%s %s %s %sms",
        request.method,
        path,
        response.status_code,
        duration_ms,
        extra={
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "duration_ms": duration_ms,
            "user_id": _user_id(request),
        },
    )


def logged_path(request: HttpRequest) -> str:
    """The path without its query string, with secret URL parts replaced by `***`."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in match.kwargs.items() if match else ():
        if name in SECRET_KWARGS and value:
            path = path.replace(str(value), "***")
    return path


def _user_id(request: HttpRequest) -> int | None:
    """The signed-in user's id, only if the request already loaded its user (no extra query)."""
    user = request.__dict__.get("user")
    user = getattr(user, "_wrapped", user)  # the lazy user of AuthenticationMiddleware
    if user is None or user is empty or not user.is_authenticated:
        return None
    return user.pk
