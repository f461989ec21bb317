"""The deploy tools' doors: Flagger's webhooks and Argo Rollouts' web metric, with a token of the
launch carrying the `rollout` scope (what they answer is apps.rollouts.deploy_tools).

Flagger sends no header of its own (only Content-Type), so its webhooks can also carry the token
in the URL: `.../rollout/hooks/<hook>/?token=<token>`, a secret URL revoked with its token. The
query string is not in the path that refusals are logged and audited with.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.access import ScopedAccess, launch_for
from apps.api.authentication import BearerTokenAuthentication, QueryTokenAuthentication
from apps.api.models import Scope
from apps.api.reads import LaunchReadView
from apps.api.schema import READ_ERRORS, error_answer
from apps.rollouts.deploy_tools import HOOKS, analysis_document, answer_hook
from apps.rollouts.models import Rollout

MAX_BODY_BYTES = 64 * 1024  # Flagger's body is a few hundred bytes
# The phases Flagger sends (flaggerv1.CanaryPhase).
FLAGGER_PHASES = (
    "Initializing", "Initialized", "Waiting", "Progressing", "WaitingPromotion", "Promoting",
    "Finalising", "Succeeded", "Failed", "Terminating", "Terminated",
)  # fmt: skip


class FlaggerPayload(serializers.Serializer):
    """Flagger's webhook body (CanaryWebhookPayload)."""

    name = serializers.CharField(max_length=253, help_text="The Canary's name.")
    namespace = serializers.CharField(max_length=63, help_text="The Canary's namespace.")
    phase = serializers.ChoiceField(choices=FLAGGER_PHASES, help_text="The canary's phase.")
    checksum = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="",
        help_text="Flagger's hash of the canary revision: the rollback hook answers its run.",
    )  # fmt: skip
    metadata = serializers.DictField(
        child=serializers.CharField(max_length=1000, allow_blank=True), required=False,
        default=dict, help_text="The webhook's metadata, as set in the Canary.",
    )  # fmt: skip

    def validate_metadata(self, value: dict) -> dict:
        if len(value) > 50:
            raise serializers.ValidationError("at most 50 entries")
        return value


class HookAnswerSerializer(serializers.Serializer):
    hook = serializers.CharField()
    detail = serializers.CharField(help_text="Why the answer is yes or no.")
    run = serializers.IntegerField(allow_null=True, help_text="The rollout run concerned.")


TOKEN = OpenApiParameter(
    "token", str, OpenApiParameter.QUERY,
    description="For Flagger, which sends no header: a token of the launch with the `rollout` "
    "scope, in the webhook's URL (a secret URL, revoked with the token).",
)  # fmt: skip
HOOK_ERRORS = {
    400: error_answer("The body is not Flagger's JSON (name, namespace, phase, ...)."),
    **READ_ERRORS,
    403: error_answer("No: no Go stands, the T-0 window is closed, the stage has not passed, "
                      "or the token lacks the rollout scope."),
    404: error_answer("No rollout in the spec, or another launch's."),
    409: error_answer("rollback only: no rollback (the run of this revision goes on)."),
    413: error_answer("The body is over 64 KiB."),
}  # fmt: skip
SUMMARIES = {
    "confirm-rollout": "Flagger's confirm-rollout: 200 only while a Go stands and the T-0 window "
    "is open (starts a rollout run)",
    "confirm-traffic-increase": "Flagger's confirm-traffic-increase: 200 for the first stage, then "
    "only once the current stage passed (the next one starts)",
    "confirm-promotion": "Flagger's confirm-promotion: 200 only once the current stage passed",
    "rollback": "Flagger's rollback: 200 once a trigger fired, a stage failed or the Go was "
    "withdrawn; else 409",
}


class HookView(APIView):
    """POST /api/v1/launches/<slug>/rollout/hooks/<hook>/: one of Flagger's webhooks.

    One route per hook (an unknown hook is no route: 404).
    """

    authentication_classes = [QueryTokenAuthentication, BearerTokenAuthentication]
    permission_classes = [ScopedAccess]
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    required_scopes = {"*": (Scope.ROLLOUT,)}
    hook = ""

    def post(self, request, slug: str):
        launch = launch_for(request, slug)
        if not Rollout.objects.filter(launch=launch).exists():
            return Response({"detail": "the launch spec has no rollout"}, 404)
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
            return Response({"detail": f"the body is over {MAX_BODY_BYTES:,} bytes"}, 413)
        payload = FlaggerPayload(data=request.data)
        if not payload.is_valid():
            return Response({"detail": _errors(payload.errors)}, 400)
        answer = answer_hook(launch=launch, hook=self.hook, body=dict(payload.validated_data),
                             caller=str(request.user))  # fmt: skip
        run = answer.run.pk if answer.run else None
        return Response({"hook": self.hook, "detail": answer.detail, "run": run}, answer.status)


def _errors(errors) -> str:
    if isinstance(errors, dict):
        return "; ".join(f"{field}: {' '.join(map(str, found))}" for field, found in errors.items())
    return " ".join(map(str, errors))


def _hook_view(hook: str) -> type[HookView]:
    view = type(f"{hook.title().replace('-', '')}HookView", (HookView,), {"hook": hook})
    schema = extend_schema(
        tags=["rollout"], summary=SUMMARIES[hook], parameters=[TOKEN], request=FlaggerPayload,
        responses={200: HookAnswerSerializer, **HOOK_ERRORS},
    )  # fmt: skip
    return extend_schema_view(post=schema)(view)


HOOK_VIEWS = {hook: _hook_view(hook) for hook in HOOKS}


class CriterionSerializer(serializers.Serializer):
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["stage", "trigger"])
    comparator = serializers.CharField()
    threshold = serializers.FloatField()
    unit = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    status = serializers.ChoiceField(
        choices=["passing", "failing", "unknown", "pending"],
        help_text="A trigger that fired is `failing`.",
    )
    reason = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField(allow_null=True)


class AnalysisSerializer(serializers.Serializer):
    launch = serializers.CharField()
    verdict = serializers.ChoiceField(
        choices=["pass", "fail", "inconclusive"],
        help_text='For Argo Rollouts: successCondition: result.verdict == "pass".',
    )
    reason = serializers.CharField()
    run = serializers.DictField(allow_null=True, help_text="The newest run: id, status, ...")
    stage = serializers.DictField(
        allow_null=True, help_text="Its current stage: name, traffic, status, tally and limits."
    )
    criteria = CriterionSerializer(many=True)
    evaluated_at = serializers.DateTimeField()


class AnalysisView(LaunchReadView):
    """GET /api/v1/launches/<slug>/rollout/analysis/: Argo Rollouts' web metric."""

    required_scopes = {"*": (Scope.ROLLOUT, Scope.READ)}

    @extend_schema(
        tags=["rollout"],
        summary="The rollout's verdict (pass, fail, inconclusive), stage and criteria: Argo "
        "Rollouts' web metric",
        responses={200: AnalysisSerializer, **READ_ERRORS},
    )
    def get(self, request, slug: str):
        launch = launch_for(request, slug)
        if not Rollout.objects.filter(launch=launch).exists():
            return Response({"detail": "the launch spec has no rollout"}, 404)
        return Response(analysis_document(launch))
