"""The authentication backends: Django's and allauth's, each reading the signed-in person of a
request with a query built once per process (portal.prepared), the read every page makes.

What they decide is theirs, unchanged: who may sign in, and that an inactive account is nobody
(user_can_authenticate()).
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth import backends, get_user_model

from portal.prepared import PreparedQuery

_PERSON = PreparedQuery(
    lambda user_id: get_user_model()._default_manager.filter(pk=user_id).order_by(), user_id=int
)


class _PreparedPerson:
    def get_user(self, user_id):
        if type(user_id) is not int:  # a key of another kind: as Django reads it
            return super().get_user(user_id)
        user = _PERSON.first(user_id=user_id)
        return user if user is not None and self.user_can_authenticate(user) else None


class ModelBackend(_PreparedPerson, backends.ModelBackend):
    """Django's username and password backend (the admin's sign-in)."""


class AuthenticationBackend(_PreparedPerson, AllauthBackend):
    """allauth's: email and password, single sign-on."""
