"""Who may reach which launch through the API, and the record of every refusal.

A token is bound to one launch: any other launch answers 404, as if it did not exist. A signed-in
person sees the launches the pages show them (staff: all; others: those they hold a current
assignment on). A known token that is refused is logged and audited (`api.denied`); an unknown
token is only logged, so that a flood of guesses cannot flood the audit chain.
"""

import logging

from django.db import transaction
from django.http import Http404
from rest_framework import permissions

from apps.api.models import ApiToken, Scope
from apps.audit.services import record
from apps.launches.models import Launch
from apps.signoffs.permissions import visible_launch
from apps.signoffs.permissions import visible_launches as launches_visible_to

log = logging.getLogger("apps.api")

# Scopes that may read the audit log: the auditors' tools, and the program manager's, which
# change state and must be able to see the record of what they changed.
AUDIT_SCOPES = (Scope.AUDIT, Scope.MANAGE)


def may_read_audit(request) -> bool:
    """Whether the caller reads the audit log and its details (a signer's IP and user agent): a
    token with an audit scope; a signed-in person, as on the audit page."""
    if request is None:
        return False
    if isinstance(request.auth, ApiToken):
        return bool(set(request.auth.scopes) & set(AUDIT_SCOPES))
    return bool(request.user and request.user.is_authenticated)


def visible_launches(request):
    """The launches the request may see: a token its own; a person what the pages show them."""
    if isinstance(request.auth, ApiToken):
        return Launch.objects.filter(pk=request.auth.launch_id)
    return launches_visible_to(request.user)


def launch_for(request, slug: str) -> Launch:
    """The launch named in the URL, or 404 (another launch's token is recorded as denied)."""
    token = request.auth
    if isinstance(token, ApiToken):
        if token.launch.slug != slug:
            deny(request, token, "the token belongs to another launch")
            raise Http404
        return token.launch
    launch = visible_launch(request.user, slug)  # the pages' rule, its query built once
    if launch is None:
        raise Http404
    return launch


def deny(request, token: ApiToken, reason: str) -> None:
    """Log a known token's refusal and append `api.denied` to the audit chain."""
    log.warning(
        "api token %r of %s refused: %s %s (%s)",
        token.name, token.launch.slug, request.method, request.path, reason,
    )  # fmt: skip
    with transaction.atomic():
        record(
            actor=f"token:{token.name}", action="api.denied", launch_slug=token.launch.slug,
            obj_type="api_token", obj_key=token.name,
            data={"method": request.method, "path": request.path, "reason": reason},
        )  # fmt: skip


class ScopedAccess(permissions.BasePermission):
    """Tokens carry one of the view's `required_scopes`; people are signed in.

    What a person may do beyond reading (edit the timeline) is checked by the view itself,
    with the same helpers as the pages.
    """

    message = "this token does not carry the scope this endpoint needs"

    def has_permission(self, request, view) -> bool:
        token = request.auth
        if isinstance(token, ApiToken):
            scopes = view.required_scopes.get(request.method, view.required_scopes.get("*", ()))
            if set(scopes) & set(token.scopes):
                return True
            deny(request, token, f"needs scope {' or '.join(scopes)}")
            return False
        return bool(request.user and request.user.is_authenticated)
