"""Report ingest: POST /api/v1/launches/<slug>/reports/ with a Bearer token."""

import zlib

from django.conf import settings
from django.db import IntegrityError, transaction
from django.http import Http404
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.authentication import BearerTokenAuthentication, HasScope
from apps.api.models import IngestRequest
from apps.gates.services import IngestError, ingest_report
from apps.signoffs.api import readiness_document

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
    permission_classes = [HasScope]
    parser_classes = [MultiPartParser]
    required_scope = "ingest"

    def post(self, request, slug: str):
        token = request.auth
        if token.launch.slug != slug:
            raise Http404  # a token sees nothing of another launch
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


class ReadinessView(APIView):
    """GET /api/v1/launches/<slug>/readiness/: 200 whether ready or not; the body says which."""

    authentication_classes = [BearerTokenAuthentication]
    permission_classes = [HasScope]
    required_scope = "read"

    def get(self, request, slug: str):
        if request.auth.launch.slug != slug:
            raise Http404
        return Response(readiness_document(request.auth.launch))
