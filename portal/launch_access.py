"""The one door every page uses to get a launch for a person, one query each.

A launch the person may not see does not exist for them (404); one they see but do not administer
answers 403 where a launch admin is needed. The rules themselves are in apps.signoffs.permissions;
the API reads them through apps.api.access (a token sees its own launch only).
"""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404

from apps.launches.models import Launch
from apps.signoffs.permissions import visible_launches, with_administered


def get_launch_for_user(request: HttpRequest, slug: str, launches=None) -> Launch:
    """The launch, if the user may see it (404 otherwise), from `launches` (a Launch queryset
    with what the page reads in the same query, such as `with_record_version()`).

    Staff see every launch; anyone else only the launches they hold a current assignment on.
    """
    return get_object_or_404(visible_launches(request.user, launches), slug=slug)


def get_launch_for_admin(request: HttpRequest, slug: str, *, managing: str) -> Launch:
    """The launch, if the user sees it (404 otherwise) and administers it (403 otherwise)."""
    launches = with_administered(request.user, visible_launches(request.user))
    launch = get_object_or_404(launches, slug=slug)
    if not launch.administered:
        raise PermissionDenied(f"only the launch's admins manage its {managing}")
    return launch
