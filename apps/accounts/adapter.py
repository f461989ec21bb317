from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter


class InviteOnlyAccountAdapter(DefaultAccountAdapter):
    """No open sign-up: people are invited by an admin."""

    def is_open_for_signup(self, request) -> bool:
        return False


class InviteOnlySocialAccountAdapter(DefaultSocialAccountAdapter):
    """Single sign-on signs in existing (invited) users only; it never creates accounts."""

    def is_open_for_signup(self, request, sociallogin) -> bool:
        return False
