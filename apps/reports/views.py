"""Packets, the evidence export, the SOC2 controls page and /verify/: thin doors."""

import logging
import re
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from apps.launches.models import Launch
from apps.reports import verification
from apps.reports.exports.controls import control_map
from apps.reports.exports.jobs import (
    evidence_size,
    export_audited,
    inline_max_bytes,
    record_download,
    request_export,
)
from apps.reports.models import ExportJob, JobStatus, Packet
from apps.reports.packets.jobs import active_packet_job, request_packet
from apps.reports.packets.store import current_packet
from apps.signoffs.permissions import can_export, visible_launches
from portal import signing, storage
from portal.http import client_ip
from portal.launch_access import get_launch_for_user

SHA256_HEX = re.compile(r"[0-9a-f]{64}")
UPLOAD_OVERHEAD = 64 * 1024  # multipart boundaries, headers and the form's other fields
EXPORT_JOBS_SHOWN = 20

verify_log = logging.getLogger("apps.reports.verify")


@login_required
@require_http_methods(["GET", "POST"])
def packet_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The launch's packets (who asked, when, SHA-256); POST asks for one (one at a time)."""
    launch = get_launch_for_user(request, slug)
    if request.method == "POST":
        job, created = request_packet(launch=launch, user=request.user)
        if created:
            messages.info(request, "Packet requested: it appears here when it has been rendered.")
        else:
            who = job.requested_by_name if job else "someone else"
            messages.info(request, f"A packet is already being built (requested by {who}).")
        return redirect("launches:packets", slug=launch.slug)
    context = {
        "launch": launch,
        "building": active_packet_job(launch),  # one query: the queued or running job
        "packets": list(Packet.objects.for_launch(launch)),  # one query
    }
    if request.headers.get("HX-Request"):
        return render(request, "reports/_packets.html", context)
    context["may_export"] = can_export(request.user, launch)  # one query
    return render(request, "reports/packets.html", context)


@login_required
@require_GET
def packet_download(request: HttpRequest, slug: str, sha256: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    packet = get_object_or_404(
        Packet.objects.select_related("launch"), launch=launch, sha256=sha256
    )
    return storage.download_response(
        storage.PACKETS, packet.path, filename=packet.filename, content_type="application/pdf"
    )


@login_required
@require_GET
def controls(request: HttpRequest, slug: str) -> HttpResponse:
    """Per SOC2 criterion: the gates mapped to it, their evidence and the covering sign-offs."""
    launch = get_launch_for_user(request, slug)
    now = timezone.now()
    mapping = control_map(launch, now)  # four queries: gates, counts, roles, sign-offs
    context = {"launch": launch, "now": now, "criteria": mapping.criteria,
               "unmapped": mapping.unmapped}  # fmt: skip
    return render(request, "reports/controls.html", context)


def _exporting_launch(request: HttpRequest, slug: str) -> Launch:
    launch = get_launch_for_user(request, slug)
    if not can_export(request.user, launch):
        raise PermissionDenied("only the launch's auditors and admins export evidence")
    return launch


@login_required
@require_http_methods(["GET", "POST"])
def evidence_export(request: HttpRequest, slug: str) -> HttpResponse:
    """The export page (auditors and admins): download now, or build in the background.

    POST `action=download` streams the ZIP when its raw evidence is at most
    EXPORT_INLINE_MAX_BYTES; above that, and for `action=background`, a task builds it.
    """
    launch = _exporting_launch(request, slug)
    jobs = ExportJob.objects.filter(launch=launch).select_related("launch")[:EXPORT_JOBS_SHOWN]
    if request.headers.get("HX-Request"):
        return _export_rows(request, launch, list(jobs))
    filters, error = _export_filters(request.POST if request.method == "POST" else {})
    if request.method == "POST" and not error:
        files, size = evidence_size(launch, **filters)
        # A request never renders a packet: without a current one, a task builds both.
        packet = current_packet(launch)
        small = size <= inline_max_bytes()
        if request.POST.get("action") == "download" and small and packet is not None:
            return _stream_export(request, launch, filters, packet)
        request_export(launch=launch, user=request.user, **filters)
        text = f"The export ({files} evidence files, {size:,} bytes) is built in the background"
        if packet is None:
            text += " with a fresh sign-off packet (none is current)"
        messages.info(request, f"{text}: its link appears below when ready.")
        return redirect("launches:export", slug=launch.slug)
    files, size = evidence_size(launch)
    context = {
        **_jobs_context(launch, list(jobs)), "error": error, "form": request.POST,
        "chosen": request.POST.getlist("category"),
        "categories": launch.gates.categories(),
        "evidence_files": files, "evidence_size": size, "inline_max": inline_max_bytes(),
    }  # fmt: skip
    return render(request, "reports/export.html", context, status=400 if error else 200)


def _export_rows(request: HttpRequest, launch: Launch, jobs: list) -> HttpResponse:
    return render(request, "reports/_export_jobs.html", _jobs_context(launch, jobs))


def _jobs_context(launch: Launch, jobs: list) -> dict:
    return {"launch": launch, "jobs": jobs, "polling": any(j.is_active for j in jobs)}


def _stream_export(request: HttpRequest, launch: Launch, filters: dict, packet) -> FileResponse:
    archive, data = export_audited(launch=launch, actor=request.user, packet=packet, **filters)
    name = f"{launch.slug}-evidence-{timezone.now():%Y%m%dT%H%M%SZ}.zip"
    response = FileResponse(
        archive, as_attachment=True, filename=name, content_type="application/zip"
    )
    response["X-Export-SHA256"] = data["zip_sha256"]
    return response


@login_required
@require_GET
def export_download(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    """A built export's ZIP (auditors and admins); each download is audited."""
    launch = _exporting_launch(request, slug)
    job = get_object_or_404(
        ExportJob.objects.select_related("launch"), launch=launch, pk=pk, status=JobStatus.DONE
    )
    record_download(job=job, user=request.user)
    response = storage.download_response(
        storage.EXPORTS, job.path, filename=job.filename, content_type="application/zip"
    )
    response["X-Export-SHA256"] = job.sha256
    return response


def _export_filters(data) -> tuple[dict, str]:
    """since/until (ISO 8601, UTC when no zone) and categories from a form; or an error."""
    filters = {"since": None, "until": None, "categories": None}
    for name in ("since", "until"):
        text = (data.get(name) or "").strip()
        if not text:
            continue
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return filters, f"{name}: {text[:40]!r} is not a date and time such as 2026-11-01T00:00"
        filters[name] = moment if timezone.is_aware(moment) else timezone.make_aware(moment)
    if filters["since"] and filters["until"] and filters["since"] >= filters["until"]:
        return filters, "since must be before until"
    if hasattr(data, "getlist"):
        filters["categories"] = [c for c in data.getlist("category") if c] or None
    return filters, ""


# --- /verify/: public, no sign-in ----------------------------------------------------------------


@csrf_exempt  # the rate and the size are checked before the body is read; then csrf_protect
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Upload a packet PDF or an export ZIP, or paste a SHA-256: did this portal issue it, what
    is it, for which launch, is its signature ours and valid, is a newer packet out?

    Public: anyone holding a file may ask, within a rate per address; every lookup is logged.
    """
    if request.method == "POST":
        address = client_ip(request)
        if not verification.spend_lookup(address):
            verify_log.info("verify lookup sha256=- outcome=rate-limited address=%s", address)
            text = "Too many lookups from your address: try again in a few minutes."
            return _verify_page(request, {"error": text}, status=429)
        if (
            int(request.META.get("CONTENT_LENGTH") or 0)
            > settings.REPORT_MAX_BYTES + UPLOAD_OVERHEAD
        ):
            return _too_large(request, address)
    return _verify_form(request)


@csrf_protect
def _verify_form(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return _verify_page(request, {})
    address = client_ip(request)
    upload = request.FILES.get("file")
    if upload is not None and upload.size > settings.REPORT_MAX_BYTES:
        return _too_large(request, address)
    sha256 = request.POST.get("sha256", "").strip().lower()
    if upload is None and not SHA256_HEX.fullmatch(sha256):
        verify_log.info("verify lookup sha256=- outcome=bad-input address=%s", address)
        text = "Give a PDF or ZIP file, or a SHA-256 of 64 hexadecimal characters."
        return _verify_page(request, {"error": text}, status=400)
    finding = verification.check_upload(upload) if upload else verification.look_up(sha256)
    verify_log.info("verify lookup sha256=%s outcome=%s address=%s",
                    finding.sha256, finding.outcome, address)  # fmt: skip
    return _verify_page(request, {"finding": finding, "link": _launch_link(request, finding)})


def _too_large(request: HttpRequest, address: str | None) -> HttpResponse:
    verify_log.info("verify lookup sha256=- outcome=too-large address=%s", address)
    text = f"The file is over {settings.REPORT_MAX_BYTES:,} bytes: paste its SHA-256 instead."
    return _verify_page(request, {"error": text}, status=413)


def _verify_page(request: HttpRequest, context: dict, status: int = 200) -> HttpResponse:
    fingerprint = signing.identity().fingerprint
    context = {
        **context,
        "fingerprint": signing.grouped(fingerprint),
        "max_bytes": settings.REPORT_MAX_BYTES,
    }
    return render(request, "reports/verify.html", context, status=status)


def _launch_link(request: HttpRequest, finding) -> str:
    """The launch's packets (or export) page, for a signed-in person who may see that launch."""
    launch = finding.launch
    if launch is None or not request.user.is_authenticated:
        return ""
    if not visible_launches(request.user).filter(pk=launch.pk).exists():
        return ""
    if finding.kind == "export" and can_export(request.user, launch):
        return reverse("launches:export", args=[launch.slug])
    return reverse("launches:packets", args=[launch.slug])


@require_GET
def certificate(request: HttpRequest) -> HttpResponse:
    """The portal's signing certificate chain (PEM), public: what packets and exports are
    checked against; its SHA-256 is the fingerprint /verify/ shows."""
    response = HttpResponse(
        signing.identity().certificate_pem(), content_type="application/x-pem-file"
    )
    response["Content-Disposition"] = 'attachment; filename="launch-portal-signing-certificate.pem"'
    return response
