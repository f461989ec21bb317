"""The door of every GET about one launch, shared by the API's views and the rollouts' API."""

from rest_framework.authentication import SessionAuthentication
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from apps.api.access import ScopedAccess
from apps.api.authentication import BearerTokenAuthentication
from apps.api.models import Scope


class LaunchReadView(APIView):
    """A GET about one launch: a `read` token of the launch, or a session that sees it.

    A subclass may widen `required_scopes` (the post-launch summary also takes `rollout`).
    """

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [ScopedAccess]
    renderer_classes = [JSONRenderer]
    required_scopes = {"*": (Scope.READ,)}
