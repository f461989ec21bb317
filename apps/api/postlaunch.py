"""GET /api/v1/launches/<slug>/post-launch/: the post-launch validation and its comparison table,
from apps.rollouts.postlaunch.post_launch_summary."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from apps.api.access import launch_for
from apps.api.models import Scope
from apps.api.reads import LaunchReadView
from apps.api.schema import READ_ERRORS
from apps.launches.durations import format_duration
from apps.rollouts.postlaunch import PostLaunchSummary, post_launch_summary


class RowSerializer(serializers.Serializer):
    name = serializers.CharField()
    rule = serializers.CharField()
    unit = serializers.CharField()
    value = serializers.DecimalField(max_digits=30, decimal_places=6, allow_null=True)
    baseline = serializers.DecimalField(max_digits=30, decimal_places=6, allow_null=True)
    change = serializers.DecimalField(max_digits=30, decimal_places=6, allow_null=True)
    change_percent = serializers.DecimalField(
        max_digits=30, decimal_places=2, allow_null=True, help_text="Null for a zero baseline."
    )
    status = serializers.CharField(help_text="pending, passing, failing or unknown.")
    reason = serializers.CharField(allow_blank=True)
    baseline_reason = serializers.CharField(allow_blank=True, help_text="Why no baseline value.")
    query = serializers.CharField(allow_blank=True)
    baseline_query = serializers.CharField(allow_blank=True)
    at = serializers.DateTimeField(allow_null=True)


class AttestationSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    status = serializers.CharField()
    done = serializers.BooleanField()


class PostLaunchSerializer(serializers.Serializer):
    launch = serializers.CharField(source="slug")
    state = serializers.ChoiceField(
        choices=["not_started", "running", "passed", "failed", "inconclusive"]
    )
    reason = serializers.CharField(allow_blank=True)
    window = serializers.CharField(allow_null=True, help_text="A duration such as 24h.")
    baseline_offset = serializers.CharField(allow_null=True, help_text="A duration such as 7d.")
    window_start = serializers.DateTimeField(allow_null=True)
    window_end = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    analyses = serializers.IntegerField()
    failures = serializers.IntegerField()
    inconclusives = serializers.IntegerField()
    rows = RowSerializer(many=True)
    attestations = AttestationSerializer(many=True)
    closed_at = serializers.DateTimeField(allow_null=True)


def document(slug: str, summary: PostLaunchSummary, closed_at) -> dict:
    return {
        "slug": slug, "state": summary.state, "reason": summary.reason,
        "window": format_duration(summary.window) if summary.window else None,
        "baseline_offset": summary.baseline_text or None, "window_start": summary.window_start,
        "window_end": summary.window_end, "finished_at": summary.finished_at,
        "analyses": summary.analyses, "failures": summary.failures,
        "inconclusives": summary.inconclusives, "rows": summary.rows,
        "attestations": summary.attestations, "closed_at": closed_at,
    }  # fmt: skip


class PostLaunchView(LaunchReadView):
    """A `read` or `rollout` token of the launch, or a session that sees the launch."""

    required_scopes = {"*": (Scope.READ, Scope.ROLLOUT)}

    @extend_schema(
        tags=["rollout"],
        summary="Post-launch validation: state, window, and each check against its baseline",
        responses={200: PostLaunchSerializer, **READ_ERRORS},
    )
    def get(self, request, slug: str):
        launch = launch_for(request, slug)
        summary = post_launch_summary(launch)
        return Response(PostLaunchSerializer(document(launch.slug, summary, launch.closed_at)).data)
