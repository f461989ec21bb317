"""Packets, the evidence export, the SOC2 controls page and /verify/: thin doors."""

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from apps.accounts.permissions import can_export, visible_launches
from apps.launches.models import Launch
from apps.launches.views import get_launch_for_user
from apps.reports import exports
from apps.reports.controls import control_map
from apps.reports.jobs import active_packet_job, request_packet
from apps.reports.models import ExportJob, JobStatus, Packet
from apps.reports.services import check_packet, current_packet, packet_path, sha256_of

SHA256_LENGTH = 64
EXPORT_JOBS_SHOWN = 20


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
def packet_download(request: HttpRequest, slug: str, sha256: str) -> FileResponse:
    launch = get_launch_for_user(request, slug)
    packet = get_object_or_404(
        Packet.objects.select_related("launch"), launch=launch, sha256=sha256
    )
    return FileResponse(
        packet_path(packet).open("rb"),
        as_attachment=True,
        filename=packet.filename,
        content_type="application/pdf",
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
        files, size = exports.evidence_size(launch, **filters)
        # A request never renders a packet: without a current one, a task builds both.
        packet = current_packet(launch)
        small = size <= exports.inline_max_bytes()
        if request.POST.get("action") == "download" and small and packet is not None:
            return _stream_export(request, launch, filters, packet)
        exports.request_export(launch=launch, user=request.user, **filters)
        text = f"The export ({files} evidence files, {size:,} bytes) is built in the background"
        if packet is None:
            text += " with a fresh sign-off packet (none is current)"
        messages.info(request, f"{text}: its link appears below when ready.")
        return redirect("launches:export", slug=launch.slug)
    files, size = exports.evidence_size(launch)
    context = {
        **_jobs_context(launch, list(jobs)), "error": error, "form": request.POST,
        "chosen": request.POST.getlist("category"),
        "categories": launch.gates.categories(),
        "evidence_files": files, "evidence_size": size, "inline_max": exports.inline_max_bytes(),
    }  # fmt: skip
    return render(request, "reports/export.html", context, status=400 if error else 200)


def _export_rows(request: HttpRequest, launch: Launch, jobs: list) -> HttpResponse:
    return render(request, "reports/_export_jobs.html", _jobs_context(launch, jobs))


def _jobs_context(launch: Launch, jobs: list) -> dict:
    return {"launch": launch, "jobs": jobs, "polling": any(j.is_active for j in jobs)}


def _stream_export(request: HttpRequest, launch: Launch, filters: dict, packet) -> FileResponse:
    archive, data = exports.export_audited(
        launch=launch, actor=request.user, packet=packet, **filters
    )
    name = f"{launch.slug}-evidence-{timezone.now():%Y%m%dT%H%M%SZ}.zip"
    response = FileResponse(
        archive, as_attachment=True, filename=name, content_type="application/zip"
    )
    response["X-Export-SHA256"] = data["zip_sha256"]
    return response


@login_required
@require_GET
def export_download(request: HttpRequest, slug: str, pk: int) -> FileResponse:
    """A built export's ZIP (auditors and admins); each download is audited."""
    launch = _exporting_launch(request, slug)
    job = get_object_or_404(
        ExportJob.objects.select_related("launch"), launch=launch, pk=pk, status=JobStatus.DONE
    )
    exports.record_download(job=job, user=request.user)
    response = FileResponse(
        exports.export_path(job).open("rb"),
        as_attachment=True,
        filename=job.filename,
        content_type="application/zip",
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


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Upload a PDF or paste its SHA-256: did the portal issue it, and is it the latest?

    The launch, dates and status are told only to someone who may see that launch.
    """
    check, error, visible = None, "", False
    if request.method == "POST":
        upload = request.FILES.get("file")
        sha256 = sha256_of(upload) if upload else request.POST.get("sha256", "").strip().lower()
        if len(sha256) != SHA256_LENGTH or any(c not in "0123456789abcdef" for c in sha256):
            error = "Give a PDF file or a SHA-256 of 64 hexadecimal characters."
        else:
            check = check_packet(sha256)
            visible = check.issued and _may_see(request, check.packet.launch)
    context = {"check": check, "error": error, "visible": visible}
    return render(request, "reports/verify.html", context)


def _may_see(request: HttpRequest, launch: Launch) -> bool:
    """The one rule of who sees a launch (the same as every launch page's door)."""
    return visible_launches(request.user).filter(pk=launch.pk).exists()
