"""Report ingest: POST /api/v1/launches/<slug>/reports/ with a Bearer token; and the launch's
readiness and forecast, for deploy steps and dashboards."""

import zlib

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.access import ScopedAccess, launch_for
from apps.api.authentication import BearerTokenAuthentication
from apps.api.models import IngestRequest, Scope
from apps.api.reads import LaunchReadView
from apps.api.schema import FORBIDDEN, NOT_FOUND, READ_ERRORS, UNAUTHENTICATED, error_answer
from apps.api.serializers import (
    ForecastSerializer,
    IngestedSerializer,
    ReadinessSerializer,
    ReportUploadSerializer,
    errors_in_words,
)
from apps.gates.services import IngestError, ingest_report
from apps.signoffs.api import readiness_document
from apps.signoffs.forecast import launch_forecast

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
        form = ReportUploadSerializer(data=request.data)
        if not form.is_valid():
            raise IngestError(400, errors_in_words(form.errors))
        fields = form.validated_data
        upload = fields["file"]
        if upload.size > limit:
            raise TooLarge(f"the report is {upload.size:,} bytes; the limit is {limit:,}")
        data = upload.read()
        if data[:2] == _GZIP_MAGIC:
            data = inflate_capped(data, limit)
        try:
            with transaction.atomic():
                measurements = ingest_report(
                    launch=token.launch, data=data, format=fields.get("format") or None,
                    gate_key=fields.get("gate") or None, name=upload.name or "report",
                    actor=f"token:{token.name}",
                )  # fmt: skip
                answer = {"report": measurements[0], "measurements": measurements}
                body = IngestedSerializer(answer).data
                if key:
                    IngestRequest.objects.create(token=token, key=key, status_code=201, body=body)
        except IntegrityError:  # the same key, committed by a concurrent retry
            done = IngestRequest.objects.get(token=token, key=key)
            return Response(done.body, status=done.status_code)
        return Response(body, status=status.HTTP_201_CREATED)


def _refuse(code: int, message: str) -> Response:
    return Response({"detail": message}, status=code)


class ReadinessView(LaunchReadView):
    """GET /api/v1/launches/<slug>/readiness/: 200 whether ready or not; the body says which."""

    @extend_schema(
        tags=["launches"],
        summary="Is the launch ready? (200 either way; a deploy step blocks on `ready`)",
        responses={200: OpenApiResponse(ReadinessSerializer), **READ_ERRORS},
    )
    def get(self, request, slug: str):
        return Response(readiness_document(launch_for(request, slug)))


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
