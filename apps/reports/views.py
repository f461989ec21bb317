"""Packets, the evidence export and /verify/: thin doors onto apps.reports."""

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from apps.launches.views import get_launch_for_user
from apps.reports import tasks
from apps.reports.access import can_export
from apps.reports.exports import export_audited
from apps.reports.models import Packet
from apps.reports.services import check_packet, packet_path, sha256_of

SHA256_LENGTH = 64


@login_required
@require_http_methods(["GET", "POST"])
def packet_list(request: HttpRequest, slug: str) -> HttpResponse:
    """The launch's packets (who asked, when, SHA-256); POST queues a new one."""
    launch = get_launch_for_user(request, slug)
    if request.method == "POST":
        requested_at = timezone.now().isoformat()
        tasks.build_packet.delay_on_commit(launch.pk, request.user.pk, requested_at)
        messages.info(request, "Packet requested: it appears here when it has been rendered.")
        return redirect("launches:packets", slug=launch.slug)
    # One query: the launch's packets, newest first.
    packets = list(Packet.objects.for_launch(launch))
    context = {"launch": launch, "packets": packets, "may_export": can_export(request.user, launch)}
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
def evidence_export(request: HttpRequest, slug: str) -> FileResponse:
    """The evidence ZIP, for the launch's auditors and admins; the export is audited."""
    launch = get_launch_for_user(request, slug)
    if not can_export(request.user, launch):
        raise PermissionDenied("only the launch's auditors and admins export evidence")
    since, until = _moment(request.GET.get("since")), _moment(request.GET.get("until"))
    categories = [c for c in request.GET.getlist("category") if c] or None
    archive, data = export_audited(
        launch=launch, actor=request.user, since=since, until=until, categories=categories
    )
    name = f"{launch.slug}-evidence-{timezone.now():%Y%m%dT%H%M%SZ}.zip"
    response = FileResponse(
        archive, as_attachment=True, filename=name, content_type="application/zip"
    )
    response["X-Export-SHA256"] = data["zip_sha256"]
    return response


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
    """Upload a PDF or paste its SHA-256: did the portal issue it, and is it the latest?"""
    check, error = None, ""
    if request.method == "POST":
        upload = request.FILES.get("file")
        sha256 = sha256_of(upload) if upload else request.POST.get("sha256", "").strip().lower()
        if len(sha256) != SHA256_LENGTH or any(c not in "0123456789abcdef" for c in sha256):
            error = "Give a PDF file or a SHA-256 of 64 hexadecimal characters."
        else:
            check = check_packet(sha256)
    return render(request, "reports/verify.html", {"check": check, "error": error})


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise Http404("since/until must be ISO 8601 times") from None
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
