"""The one door every page uses to get a launch for a person, one query each.

A launch the person may not see does not exist for them (404); one they see but do not administer
answers 403 where a launch admin is needed. The rules themselves are in apps.signoffs.permissions;
the API reads them through apps.api.access (a token sees its own launch only).
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from apps.launches.models import Launch
from apps.signoffs.permissions import visible_launch, visible_launches, with_administered


def get_launch_for_user(
    request: HttpRequest, slug: str, *, record_version: bool = False, deciding: bool = False
) -> Launch:
    """The launch, if the user may see it (404 otherwise), with `record_version` when asked.
    One query.

    Staff see every launch; anyone else only the launches they hold a current assignment on.
    `deciding`: the page decides what the person may do (permissions_for); being read (GET,
    HEAD), it gets their assignments with the launch, and the decisions ask nothing more.
    """
    carry = deciding and request.method in ("GET", "HEAD")
    launch = visible_launch(request.user, slug, record_version=record_version, carry=carry)
    if launch is None:
        raise Http404("No launch matches the given query.")
    return launch


def get_launch_for_admin(request: HttpRequest, slug: str, *, managing: str) -> Launch:
    """The launch, if the user sees it (404 otherwise) and administers it (403 otherwise)."""
    launches = with_administered(request.user, visible_launches(request.user))
    launch = get_object_or_404(launches, slug=slug)
    if not launch.administered:
        raise PermissionDenied(f"only the launch's admins manage its {managing}")
    return launch
