import logging

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_not_required, login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from apps.accounts.services import (
    InvitationRefused,
    accept_invitation,
    invitation_tokens,
    invite_user,
)

security_log = logging.getLogger("portal.security")


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    """Every denial is logged: who, what, from where (the audit chain is for state changes)."""
    security_log.warning(
        "denied %s %s to %s from %s: %s", request.method, request.path,
        getattr(request.user, "username", "") or "anonymous",
        request.META.get("REMOTE_ADDR", ""), exception or "",
    )  # fmt: skip
    return render(request, "403.html", {"exception": exception}, status=403)


class InviteForm(forms.Form):
    email = forms.EmailField(max_length=254)
    name = forms.CharField(max_length=200, required=False, help_text="First and last name.")


@login_required
def invite(request: HttpRequest) -> HttpResponse:
    """Staff invite someone by email (launch admins invite from their launch's people page)."""
    if not request.user.is_staff:
        raise PermissionDenied("only staff invite people outside a launch")
    form = InviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                done = invite_user(**form.cleaned_data, invited_by=request.user,
                                   base_url=request.build_absolute_uri("/"))  # fmt: skip
        except InvitationRefused as exc:
            form.add_error("email", str(exc))
        else:
            messages.success(request, _invited_message(done))
            return redirect("account_invite")
    status = 400 if form.errors else 200
    return render(request, "accounts/invite.html", {"form": form}, status=status)


def _invited_message(done) -> str:
    email = done.user.email
    if done.created:
        return f"{email} is invited: the link to set a password is on its way."
    if done.sent:
        return f"{email} had not accepted yet: a fresh link is on its way."
    return f"{email} already has an account: no link was sent."


@login_not_required
@sensitive_post_parameters()
@never_cache
def accept_invite(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The emailed link: set a password once, then sign in (with the second factor if any)."""
    user = _invited_user(uidb64, token)
    if user is None:
        return render(request, "accounts/invite_invalid.html", status=400)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        accept_invitation(user=user, password=form.cleaned_data["new_password1"])
        messages.success(request, "Your password is set. Sign in with your email and it.")
        return redirect("account_login")
    status = 400 if form.errors else 200
    return render(request, "accounts/invite_accept.html", {"form": form, "invited": user},
                  status=status)  # fmt: skip


def _invited_user(uidb64: str, token: str):
    """The invited user, when the link is theirs, unused and not expired; else None."""
    try:
        pk = urlsafe_base64_decode(uidb64).decode()
        user = get_user_model().objects.get(pk=pk, is_active=True)
    except (ValueError, TypeError, OverflowError, get_user_model().DoesNotExist):
        return None
    return user if invitation_tokens.check_token(user, token) else None
