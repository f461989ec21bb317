"""Invitations: no open sign-up, people are invited by staff or a launch's admins.

An invited person gets an account with no usable password and an email holding a one-time link
to set one. The link is a token over the account's state (password, last sign-in, email), so it
stops working once used, and expires after PASSWORD_RESET_TIMEOUT (Django's, three days by
default). Single sign-on users may ignore it: OpenID Connect matches them by the same email.
"""

from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.audit.services import record


class InvitationTokens(PasswordResetTokenGenerator):
    """Tokens of invitation links; a password-reset token is not one (another salt)."""

    key_salt = "apps.accounts.services.InvitationTokens"


invitation_tokens = InvitationTokens()


class InvitationRefused(Exception):
    """Bad input or a state that forbids inviting; the message says which."""


@dataclass(frozen=True)
class Invitation:
    user: object
    created: bool  # a new account; else an existing one
    sent: bool  # the link was (re)sent: the account has no password of its own yet


def normalise_email(email: str) -> str:
    email = (email or "").strip()
    try:
        validate_email(email)
    except ValidationError as exc:
        raise InvitationRefused(f"{email!r} is not an email address") from exc
    # allauth keeps addresses in lower case and matches single sign-on by them.
    return email.lower()


def awaits_acceptance(user) -> bool:
    """Invited, and has neither set a password nor signed in (by single sign-on) since."""
    return not user.has_usable_password() and user.last_login is None


def invite_user(*, email: str, name: str = "", invited_by, base_url: str,
                launch_slug: str = "") -> Invitation:  # fmt: skip
    """Create the account of `email` (or find it) and email it a link to set a password.

    Re-inviting someone who has not accepted yet sends a fresh link. Someone who already set a
    password (or signed in) gets no link. A deactivated account is refused: staff reactivate it
    in the admin. Must run inside the caller's transaction (the audit event joins it); the email
    leaves after commit. `base_url` is the portal's origin as the inviter reached it.
    """
    email = normalise_email(email)
    users = get_user_model().objects
    user = users.filter(email__iexact=email).first()
    created = user is None
    if created:
        first, _, last = name.strip().partition(" ")
        user = users.create_user(_free_username(email), email, None, first_name=first[:150],
                                 last_name=last[:150])  # fmt: skip
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    elif not user.is_active:
        raise InvitationRefused(f"{email} is deactivated: staff may reactivate it in the admin")
    sent = awaits_acceptance(user)
    record(
        actor=invited_by, action="user.invited", launch_slug=launch_slug, obj_type="user",
        obj_key=email, data={"email": email, "created": created, "link_sent": sent},
    )  # fmt: skip
    if sent:
        user_id = user.pk
        transaction.on_commit(lambda: send_invitation(user_id=user_id, base_url=base_url,
                                                      invited_by=_name(invited_by)))  # fmt: skip
    return Invitation(user=user, created=created, sent=sent)


def invitation_link(user, base_url: str) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = invitation_tokens.make_token(user)
    path = reverse("account_invite_accept", kwargs={"uidb64": uid, "token": token})
    return base_url.rstrip("/") + path


def send_invitation(*, user_id: int, base_url: str, invited_by: str) -> None:
    user = get_user_model().objects.get(pk=user_id)
    days = max(1, settings.PASSWORD_RESET_TIMEOUT // 86400)
    send_mail(
        "You are invited to the Launch Portal",
        f"{invited_by} invited you to the Launch Portal.\n\n"
        f"Set your password here (the link works once, for {days} days):\n"
        f"{invitation_link(user, base_url)}\n\n"
        f"Then sign in with {user.email}. If your organisation uses single sign-on, you may "
        f"sign in with it instead.",
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
    )


def accept_invitation(*, user, password: str) -> None:
    """Set the invited person's password; their email is verified by the link they followed."""
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)
        record(actor=user, action="user.invite_accepted", obj_type="user", obj_key=user.email,
               data={"email": user.email})  # fmt: skip


def _free_username(email: str) -> str:
    """The email as username (sign-in is by email; the username only has to be unique)."""
    base = email.lower()[:140]
    similar = get_user_model().objects.filter(username__startswith=base)
    taken = set(similar.values_list("username", flat=True))
    candidates = (base if n == 0 else f"{base}-{n}" for n in range(len(taken) + 1))
    return next(c for c in candidates if c not in taken)


def _name(user) -> str:
    return user.get_full_name() or user.get_username()
