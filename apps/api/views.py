"""Report ingest: POST /api/v1/launches/<slug>/reports/ with a Bearer token."""

import zlib

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.authentication import SessionAuthentication
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.access import ScopedAccess, launch_for
from apps.api.authentication import BearerTokenAuthentication
from apps.api.models import IngestRequest, Scope
from apps.api.schema import FORBIDDEN, NOT_FOUND, READ_ERRORS, UNAUTHENTICATED, error_answer
from apps.gates.services import IngestError, ingest_report
from apps.launches.forecast import launch_forecast
from apps.signoffs.api import readiness_document
from apps.signoffs.models import GoNoGo

_MULTIPART_OVERHEAD = 64 * 1024  # headers and the small form fields around the file
_GZIP_MAGIC = b"\x1f\x8b"


class TooLarge(Exception):
    pass


def inflate_capped(data: bytes, limit: int) -> bytes:
    """Gunzip an upload, refusing (TooLarge) as soon as the output passes `limit` bytes."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise IngestError(400, f"the gzip stream is corrupt: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"the report inflates to more than {limit:,} bytes")
    if not inflater.eof:
        raise IngestError(400, "the gzip stream is truncated")
    return out


class ReportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="The report; gzip is inflated (same size cap).")
    format = serializers.CharField(
        required=False, help_text="The report format (junit, cobertura, ...); detected if absent."
    )
    gate = serializers.CharField(required=False, help_text="Measure only this gate (its key).")


class MeasuredSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    gate = serializers.CharField()
    metric = serializers.CharField()
    value = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)
    evaluated_at = serializers.DateTimeField()


class ReportSerializer(serializers.Serializer):
    sha256 = serializers.CharField()
    format = serializers.CharField(allow_blank=True)
    name = serializers.CharField(allow_blank=True)


class IngestedSerializer(serializers.Serializer):
    report = ReportSerializer()
    measurements = MeasuredSerializer(many=True)


class ReportIngestView(APIView):
    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [ScopedAccess]
    parser_classes = [MultiPartParser]
    renderer_classes = [JSONRenderer]
    required_scopes = {"*": (Scope.INGEST,)}

    @extend_schema(
        tags=["reports"],
        summary="Upload a CI report (JUnit, coverage, SARIF, ...) for the launch's report gates",
        request={"multipart/form-data": ReportUploadSerializer},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                description="A retry with the same key answers the first answer again.",
            )
        ],
        responses={
            201: IngestedSerializer,
            400: error_answer("Malformed, hostile or truncated file; no gate reads it."),
            401: UNAUTHENTICATED,
            403: FORBIDDEN,
            404: NOT_FOUND,
            413: error_answer("Over REPORT_MAX_BYTES (also once inflated)."),
            415: error_answer("Unknown report format."),
        },
    )  # fmt: skip
    def post(self, request, slug: str):
        token = request.auth
        launch_for(request, slug)  # a token sees nothing of another launch (404, recorded)
        limit = settings.REPORT_MAX_BYTES
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > limit + _MULTIPART_OVERHEAD:  # refuse before the body is read
            return _refuse(413, f"the upload is {length:,} bytes; the limit is {limit:,}")
        key = request.headers.get("Idempotency-Key", "")[:200]
        if key:
            done = IngestRequest.objects.filter(token=token, key=key).first()
            if done is not None:
                return Response(done.body, status=done.status_code)
        try:
            return self._ingest(request, token, key, limit)
        except TooLarge as exc:
            return _refuse(413, str(exc))
        except IngestError as exc:
            return _refuse(exc.status, exc.message)

    def _ingest(self, request, token, key: str, limit: int) -> Response:
        upload = request.FILES.get("file")
        if upload is None:
            raise IngestError(400, "send the report as the multipart field 'file'")
        if upload.size > limit:
            raise TooLarge(f"the report is {upload.size:,} bytes; the limit is {limit:,}")
        data = upload.read()
        if data[:2] == _GZIP_MAGIC:
            data = inflate_capped(data, limit)
        fmt, gate = request.data.get("format") or None, request.data.get("gate") or None
        try:
            with transaction.atomic():
                measurements = ingest_report(
                    launch=token.launch, data=data, format=fmt, gate_key=gate,
                    name=upload.name or "report", actor=f"token:{token.name}",
                )  # fmt: skip
                body = _created(measurements)
                if key:
                    IngestRequest.objects.create(token=token, key=key, status_code=201, body=body)
        except IntegrityError:  # the same key, committed by a concurrent retry
            done = IngestRequest.objects.get(token=token, key=key)
            return Response(done.body, status=done.status_code)
        return Response(body, status=status.HTTP_201_CREATED)


def _created(measurements) -> dict:
    first = measurements[0]
    return {
        "report": {
            "sha256": first.evidence_id,
            "format": first.source_detail.get("format", ""),
            "name": first.source_detail.get("report", ""),
        },
        "measurements": [
            {
                "id": m.pk,
                "gate": m.gate.key,
                "metric": m.gate.metric,
                "value": None if m.value is None else str(m.value.normalize()),
                "status": m.status,
                "reason": m.reason,
                "evaluated_at": m.evaluated_at.isoformat(),
            }
            for m in measurements
        ],
    }


def _refuse(code: int, message: str) -> Response:
    return Response({"detail": message}, status=code)


class BlockerSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text="`gate` or `signoff`.")
    key = serializers.CharField()
    status = serializers.CharField()
    reason = serializers.CharField(allow_blank=True)


class ApprovalSerializer(serializers.Serializer):
    decision = serializers.CharField()
    signer = serializers.CharField()
    on_behalf_of = serializers.CharField(allow_blank=True)
    signed_at = serializers.DateTimeField()
    digest = serializers.CharField()


class ReadinessSerializer(serializers.Serializer):
    launch = serializers.CharField()
    ready = serializers.BooleanField()
    recommendation = serializers.ChoiceField(choices=GoNoGo.choices)
    blocking = BlockerSerializer(many=True)
    signoffs = serializers.DictField(
        child=ApprovalSerializer(), help_text="The valid approvals, by role key."
    )
    digest = serializers.CharField(help_text="SHA-256 of the launch's evidence as of now.")
    evaluated_at = serializers.DateTimeField()


class LaunchReadView(APIView):
    """A GET about one launch: a `read` token of the launch, or a session that sees it."""

    authentication_classes = [BearerTokenAuthentication, SessionAuthentication]
    permission_classes = [ScopedAccess]
    renderer_classes = [JSONRenderer]
    required_scopes = {"*": (Scope.READ,)}


class ReadinessView(LaunchReadView):
    """GET /api/v1/launches/<slug>/readiness/: 200 whether ready or not; the body says which."""

    @extend_schema(
        tags=["launches"],
        summary="Is the launch ready? (200 either way; a deploy step blocks on `ready`)",
        responses={200: OpenApiResponse(ReadinessSerializer), **READ_ERRORS},
    )
    def get(self, request, slug: str):
        return Response(readiness_document(launch_for(request, slug)))


class ForecastDaySerializer(serializers.Serializer):
    day = serializers.DateField()
    passing = serializers.IntegerField()
    waived = serializers.IntegerField()
    failing = serializers.IntegerField()
    unknown = serializers.IntegerField()
    pending = serializers.IntegerField(help_text="Blocking gates with no evidence yet.")
    approved = serializers.IntegerField(help_text="Required roles approved.")
    awaited = serializers.IntegerField(help_text="Required roles not (validly) approved.")
    done = serializers.IntegerField(help_text="passing + waived + approved.")


class ForecastSerializer(serializers.Serializer):
    sentence = serializers.CharField()
    t0 = serializers.DateField()
    total = serializers.IntegerField(help_text="Blocking gates and required roles.")
    done = serializers.IntegerField()
    left = serializers.IntegerField()
    gates_left = serializers.IntegerField()
    signoffs_left = serializers.IntegerField()
    method = serializers.CharField()
    rate = serializers.FloatField(allow_null=True, help_text="Done a day; null: no history yet.")
    window_days = serializers.IntegerField()
    ready_on = serializers.DateField(allow_null=True, help_text="Null: not at the current rate.")
    earliest = serializers.DateField(allow_null=True)
    latest = serializers.DateField(allow_null=True)
    versus_t0 = serializers.CharField(allow_null=True, help_text="ready_on as T+3d, T-2d.")
    days = ForecastDaySerializer(many=True)


class ForecastView(LaunchReadView):
    """GET /api/v1/launches/<slug>/forecast/: the readiness burn-up and projected ready date."""

    @extend_schema(
        tags=["launches"],
        summary="When will the launch be ready at the current rate? (burn-up and projection)",
        responses={200: OpenApiResponse(ForecastSerializer), **READ_ERRORS},
    )
    def get(self, request, slug: str):
        found = launch_forecast(launch_for(request, slug), timezone.now())
        return Response(ForecastSerializer(found.as_dict()).data)
