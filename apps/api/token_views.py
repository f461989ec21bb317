"""The launch's API tokens page: listed, created (shown once) and revoked by launch admins."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.api.forms import TokenForm
from apps.api.models import ApiToken, Scope
from apps.api.services import create_api_token, revoke_api_token
from apps.rollouts.deploy_tools import flagger_urls
from portal.launch_access import get_launch_for_admin


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The launch's tokens; POST creates one and shows it this once (rendered, not redirected:
    the raw token is never stored, not even in the session)."""
    launch = get_launch_for_admin(request, slug, managing="API tokens")
    form = TokenForm(request.POST or None, launch=launch)
    raw, hook_urls = None, []
    if request.method == "POST" and form.is_valid():
        try:
            made, raw = create_api_token(launch=launch, actor=request.user, **form.cleaned_data)
            form = TokenForm(launch=launch)
            if Scope.ROLLOUT in made.scopes:  # Flagger's URLs carry the token: shown once too
                origin = request.build_absolute_uri("/")
                hook_urls = flagger_urls(launch=launch, token=raw, origin=origin)
        except IntegrityError:  # the same name, created a moment ago by another admin
            form.add_error("name", "This launch already has a token of that name.")
    context = {"launch": launch, "form": form, "raw": raw, "hook_urls": hook_urls,
               "tokens": list(ApiToken.objects.for_page(launch))}  # fmt: skip
    status = 400 if form.errors else 201 if raw else 200
    response = render(request, "api/tokens.html", context, status=status)
    if raw:
        response.headers["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def token_revoke(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    launch = get_launch_for_admin(request, slug, managing="API tokens")
    token = get_object_or_404(ApiToken.objects.select_related("launch"), launch=launch, pk=pk)
    revoke_api_token(token=token, actor=request.user)
    messages.info(request, f"Token {token.name} is revoked: its next request is refused.")
    return redirect("launches:api-tokens", slug=launch.slug)
