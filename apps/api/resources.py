"""The read API under /api/v1/launches/, and the one write: an activity's status.

Every view loads its launch through apps.api.access.launch_for (tokens: their one launch; people:
the launches the pages show them) and its rows with one named queryset, so that the number of
queries of a list does not grow with the rows.
"""

from urllib.parse import urlencode

from django.db.models import Prefetch
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.api import filters, serializers
from apps.api.access import AUDIT_SCOPES, ScopedAccess, launch_for, log, visible_launches
from apps.api.authentication import BearerTokenAuthentication
from apps.api.models import ApiToken, Scope
from apps.api.schema import LIST_ERRORS, READ_ERRORS
from apps.audit.models import AuditEvent
from apps.gates import rows as cached_rows
from apps.gates.models import Gate, Measurement, Waiver, shown_gate
from apps.launches.models import Activity, Launch, Phase
from apps.signoffs.inbox import inbox_for
from apps.signoffs.models import LaunchDecision, Role, SignOff
from apps.signoffs.permissions import can_edit_timeline
from apps.specs.services import update_activity


def read_docs(tag: str, summary: str, serializer, *, many=True, description=None):
    """The schema of a GET: its tag, summary, answer and error answers."""
    ok = serializer(many=True) if many else serializer
    errors = LIST_ERRORS if many else READ_ERRORS
    return extend_schema_view(
        get=extend_schema(
            tags=[tag], summary=summary, description=description, responses={200: ok, **errors}
        )  # fmt: skip
    )


class ApiView(generics.GenericAPIView):
    """Bearer tokens or a signed-in session; JSON only; `read` unless a view says otherwise."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [ScopedAccess]
    renderer_classes = [JSONRenderer]
    required_scopes = {"*": (Scope.READ,)}

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if response.status_code == 403 and not isinstance(self.request.auth, ApiToken):
            # A token's refusals are logged and audited by access.deny; a person's are logged.
            log.warning("api refused %s %s to %s: %s", self.request.method, self.request.path,
                        self.request.user, response.data.get("detail", ""))  # fmt: skip
        return response


class LaunchScopedView(ApiView):
    """A view under /launches/<slug>/: `self.launch` is loaded once, after authentication."""

    launch: Launch

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.launch = launch_for(request, kwargs["slug"])

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request
            return self.queryset
        return self.rows()

    def rows(self):
        raise NotImplementedError


@read_docs("launches", "The launches this token or person may see", serializers.LaunchSerializer)
class LaunchList(ApiView, generics.ListAPIView):
    serializer_class = serializers.LaunchSerializer
    filterset_class = filters.LaunchFilter
    queryset = Launch.objects.none()

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        # One query: the visible launches (a subquery of the person's current assignments).
        return visible_launches(self.request).order_by("target_t0", "slug")


@read_docs("launches", "One launch", serializers.LaunchSerializer, many=False)
class LaunchDetail(LaunchScopedView, generics.RetrieveAPIView):
    serializer_class = serializers.LaunchSerializer
    queryset = Launch.objects.none()

    def get_object(self):
        return self.launch


@read_docs("timeline", "Phases, each with its activities", serializers.PhaseSerializer)
class PhaseList(LaunchScopedView, generics.ListAPIView):
    serializer_class = serializers.PhaseSerializer
    queryset = Phase.objects.none()

    def rows(self):
        # Two queries: the phases, then all their activities.
        return self.launch.phases.order_by("order", "code").prefetch_related("activities")


@read_docs("timeline", "Activities, filtered", serializers.ActivitySerializer)
class ActivityList(LaunchScopedView, generics.ListAPIView):
    serializer_class = serializers.ActivitySerializer
    filterset_class = filters.ActivityFilter
    queryset = Activity.objects.none()

    def rows(self):
        return (
            Activity.objects.filter(phase__launch=self.launch)
            .select_related("phase")
            .order_by("phase__order", "phase__code", "order", "id")
        )


@extend_schema_view(
    get=extend_schema(tags=["timeline"], summary="One activity",
                      responses={200: serializers.ActivitySerializer, **READ_ERRORS}),
    patch=extend_schema(
        tags=["timeline"], summary="Change an activity's status (program managers; audited)",
        description="A `manage` token, or a signed-in program manager of the launch. The change "
        "is recorded in the audit log as `activity.updated`.",
        request=serializers.ActivityUpdateSerializer,
        responses={200: serializers.ActivitySerializer,
                   400: OpenApiResponse(description="Not a status: `{status: [message]}`."),
                   **READ_ERRORS},
    ),
)  # fmt: skip
class ActivityDetail(LaunchScopedView, generics.RetrieveAPIView):
    serializer_class = serializers.ActivitySerializer
    queryset = Activity.objects.none()
    http_method_names = ["get", "patch", "head", "options"]
    required_scopes = {"GET": (Scope.READ,), "HEAD": (Scope.READ,), "OPTIONS": (Scope.READ,),
                       "PATCH": (Scope.MANAGE,)}  # fmt: skip

    def rows(self):
        return Activity.objects.filter(phase__launch=self.launch).select_related("phase__launch")

    def patch(self, request, slug: str, pk: int):
        token = request.auth
        if not isinstance(token, ApiToken) and not can_edit_timeline(request.user, self.launch):
            raise PermissionDenied("only the program manager edits the timeline")
        activity = self.get_object()
        change = serializers.ActivityUpdateSerializer(data=request.data)
        change.is_valid(raise_exception=True)
        actor = f"token:{token.name}" if isinstance(token, ApiToken) else request.user
        update_activity(activity=activity, user=actor, status=change.validated_data["status"],
                        owner=activity.owner)  # fmt: skip
        return Response(serializers.ActivitySerializer(activity).data)


@read_docs("gates", "Gates with their current status", serializers.GateSerializer,
           description="The status is derived as on the pages: evidence older than the gate's "
           "`max_age` reads `unknown`; a waiver covers a gate that is not passing.")  # fmt: skip
class GateList(LaunchScopedView, generics.ListAPIView):
    serializer_class = serializers.GateSerializer
    filterset_class = filters.GateFilter
    queryset = Gate.objects.none()

    def rows(self):
        return Gate.objects.filter(launch=self.launch)

    def list(self, request, *args, **kwargs):
        gates = self.filter_queryset(self.get_queryset())  # a filter it refuses answers 400 here
        now = timezone.now()
        wanted = request.query_params.get("status", "")
        filters_asked = sorted((name, values) for name, values in request.query_params.lists()
                               if name not in ("page", "page_size"))  # fmt: skip
        # The serialized gates, cached as the gate pages' rows are (apps/gates/rows.py): per
        # launch version and filters, until a gate's evidence or waiver runs out; the same for
        # everyone the view lets in, so only the page is cut per request.
        variant = f"api-gates/2;{urlencode(filters_asked, doseq=True)}"
        found = cached_rows.fragment(
            self.launch.pk, variant, now, lambda: self._serialized(gates, now, wanted),
            update=lambda kept, changed: self._updated(gates, now, wanted, kept, changed),
        )  # fmt: skip
        return self.get_paginated_response(self.paginate_queryset(found["items"]))

    def _serialized(self, gates, now, wanted: str) -> tuple[dict, object]:
        # One query: the filtered gates with newest measurement and waiver; status in Python.
        loaded = self._loaded(gates, now)
        shown = [gate for gate in loaded if gate.status == wanted] if wanted else loaded
        kept = {"items": self._serialize(shown), **cached_rows.gate_index(shown, loaded, now)}
        return kept, cached_rows.stale_at(loaded, now)

    def _updated(self, gates, now, wanted: str, kept: dict, changed: set):
        """The list kept under an earlier version with the gates read since serialized again
        (rows.updated_by_gate), or None to serialize them all."""
        loaded = self._loaded(gates.filter(pk__in=changed), now)
        shown = [gate for gate in loaded if gate.status == wanted] if wanted else loaded
        return cached_rows.updated_by_gate(kept, changed, loaded, shown, now, self._serialize,
                                           "items")  # fmt: skip

    def _loaded(self, gates, now):  # (`list` here is the view method)
        loaded = list(gates.for_dashboard(now))
        for gate in loaded:
            gate.status, gate.status_reason = gate.current_status(now)
        return loaded

    def _serialize(self, gates):
        return list(self.get_serializer(gates, many=True).data)


class GateScopedView(LaunchScopedView):
    """A view under /gates/<key>/: `self.gate` is one of the launch's active gates, or 404."""

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        now = timezone.now()
        self.gate = shown_gate(self.launch.pk, kwargs["key"], now)
        if self.gate is None:
            raise Http404("No Gate matches the given query.")
        self.gate.status, self.gate.status_reason = self.gate.current_status(now)


@read_docs("gates", "One gate with its current status", serializers.GateSerializer, many=False)
class GateDetail(GateScopedView, generics.RetrieveAPIView):
    serializer_class = serializers.GateSerializer
    queryset = Gate.objects.none()

    def get_object(self):
        return self.gate


@read_docs(
    "gates",
    "A gate's measurements, newest first",
    serializers.MeasurementSerializer,
    description="`since` and `until` bound the evaluation time (ISO 8601).",
)
class MeasurementList(GateScopedView, generics.ListAPIView):
    serializer_class = serializers.MeasurementSerializer
    filterset_class = filters.MeasurementFilter
    queryset = Measurement.objects.none()

    def rows(self):
        return (
            Measurement.objects.filter(gate=self.gate)
            .select_related("gate")
            .order_by("-evaluated_at", "-id")
        )


@read_docs("gates", "Waivers of the launch's gates", serializers.WaiverSerializer)
class WaiverList(LaunchScopedView, generics.ListAPIView):
    serializer_class = serializers.WaiverSerializer
    filterset_class = filters.WaiverFilter
    queryset = Waiver.objects.none()

    def rows(self):
        return (
            Waiver.objects.filter(gate__launch=self.launch)
            .select_related("gate")
            .order_by("-requested_at", "-id")
        )

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}


@read_docs("sign-offs", "Signing roles with their current sign-off", serializers.RoleSerializer)
class RoleList(LaunchScopedView, generics.ListAPIView):
    serializer_class = serializers.RoleSerializer
    queryset = Role.objects.none()

    def rows(self):
        active = SignOff.objects.active().select_related("role").prefetch_related("conditions")
        # Three queries: roles, their active sign-offs, those sign-offs' conditions.
        return (
            Role.objects.filter(launch=self.launch)
            .order_by("order", "key")
            .prefetch_related(Prefetch("signoffs", queryset=active, to_attr="active_signoffs"))
        )


@read_docs("sign-offs", "Sign-offs, newest first, history too", serializers.SignOffSerializer)
class SignOffList(LaunchScopedView, generics.ListAPIView):
    serializer_class = serializers.SignOffSerializer
    filterset_class = filters.SignOffFilter
    queryset = SignOff.objects.none()

    def rows(self):
        return (
            SignOff.objects.filter(launch=self.launch)
            .select_related("role")
            .prefetch_related("conditions")
            .order_by("-signed_at", "-id")
        )


@read_docs("sign-offs", "Go/No-Go decisions, newest first", serializers.DecisionSerializer)
class DecisionList(LaunchScopedView, generics.ListAPIView):
    serializer_class = serializers.DecisionSerializer
    filterset_class = filters.DecisionFilter
    queryset = LaunchDecision.objects.none()

    def rows(self):
        return LaunchDecision.objects.filter(launch=self.launch).order_by("-decided_at", "-id")


@extend_schema_view(
    get=extend_schema(
        tags=["audit"], summary="The launch's audit events, newest first",
        description="Tokens need the `audit` or `manage` scope (a `read` or `ingest` token gets "
        "403); a signed-in person sees it as on the audit page.",
        responses={200: serializers.AuditEventSerializer(many=True), **LIST_ERRORS},
    )
)  # fmt: skip
class AuditEventList(LaunchScopedView, generics.ListAPIView):
    serializer_class = serializers.AuditEventSerializer
    filterset_class = filters.AuditEventFilter
    queryset = AuditEvent.objects.none()
    required_scopes = {"*": AUDIT_SCOPES}

    def rows(self):
        return AuditEvent.objects.for_launch(self.launch.slug).reverse()


@extend_schema(
    tags=["sign-offs"],
    summary="What waits for the signed-in person: roles to sign, conditions they own",
    responses={200: serializers.InboxSerializer, **READ_ERRORS},
)
class WaitingForMe(generics.GenericAPIView):
    """The inbox of the person signed in (a launch's token is nobody: a session only)."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    renderer_classes = [JSONRenderer]
    serializer_class = serializers.InboxSerializer

    def get(self, request):
        if isinstance(request.auth, ApiToken):
            raise PermissionDenied(
                "a launch's token is nobody's: sign in to see what waits for you"
            )
        return Response(self.get_serializer(inbox_for(request.user, timezone.now())).data)
