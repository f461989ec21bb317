"""A closed launch is read-only: the HTTP door of the rule in Launch.refuse_if_closed().

Every POST, PUT, PATCH or DELETE to a URL naming a closed launch (its pages under /launches/<slug>/
and its API under /api/v1/launches/<slug>/) answers 409 "This launch is closed" before any view
runs, to whoever may see the launch (others get the view's own 404/401, so that closing a launch
tells an outsider nothing). A service refusing a closed launch (LaunchClosed) answers 409 too.
Evidence exports stay allowed: they change nothing of the launch.

It sits with the API because it asks the API's token rule (apps.api.tokens), and guards both URL
namespaces portal/urls.py builds.
"""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from apps.api.tokens import presented_token
from apps.launches.models import Launch, LaunchClosed, closed_launch
from apps.signoffs.permissions import visible_launches

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")
NAMESPACES = ("launches", "api")
# Writes that change nothing of a closed launch: taking its evidence out.
ALLOWED_WHEN_CLOSED = frozenset({"launches:export"})


class ClosedLaunchMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if request.method in SAFE_METHODS or not match or match.namespace not in NAMESPACES:
            return None
        slug = view_kwargs.get("slug")
        if not slug or match.view_name in ALLOWED_WHEN_CLOSED:
            return None
        launch = closed_launch(slug)
        if launch is None or not _may_see(request, launch):
            return None
        return closed_response(request, launch)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, LaunchClosed):
            return closed_response(request, exception.launch)
        return None


def closed_response(request: HttpRequest, launch: Launch) -> HttpResponse:
    """409 with "This launch is closed", as JSON for the API, as a page otherwise."""
    detail = str(LaunchClosed(launch))
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": detail}, status=409)
    html = render_to_string("launches/closed.html", {"launch": launch, "detail": detail}, request)
    return HttpResponse(html, status=409)


def _may_see(request: HttpRequest, launch: Launch) -> bool:
    """A signed-in person who sees the launch, or a usable token of the launch: the API's own
    rule (apps.api.tokens), so that a token the API refuses learns nothing here either."""
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    if signed_in and visible_launches(user).filter(pk=launch.pk).exists():
        return True
    token = presented_token(request)
    return token is not None and token.launch_id == launch.pk
