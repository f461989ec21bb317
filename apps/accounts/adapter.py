from allauth.account.adapter import DefaultAccountAdapter


class InviteOnlyAccountAdapter(DefaultAccountAdapter):
    """No open sign-up: people are invited by an admin."""

    def is_open_for_signup(self, request) -> bool:
        return False
