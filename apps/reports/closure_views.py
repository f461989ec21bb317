"""POST /launches/<slug>/close/: a launch admin closes the launch (apps/reports/closure.py), and
GET /launches/<slug>/summary.pdf downloads its metrics summary report."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_POST

from apps.reports.closure import close_launch
from apps.reports.packets.summary_report import open_report, summary_filename
from apps.rollouts.closure import ClosureRefused
from portal.launch_access import get_launch_for_user


@login_required
@require_POST
def close(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_user(request, slug)
    try:
        launch = close_launch(
            launch=launch, actor=request.user, reason=request.POST.get("reason", "")
        )
    except ClosureRefused as refused:
        if refused.status == 403:
            raise PermissionDenied(refused.reason) from None
        messages.error(request, f"Not closed: {refused.reason}.")
        return redirect("launches:post-launch", slug=launch.slug)
    messages.success(request, "The launch is closed and its metrics summary report issued.")
    return redirect("launches:post-launch", slug=launch.slug)


@login_required
@require_GET
def summary_download(request: HttpRequest, slug: str) -> FileResponse:
    launch = get_launch_for_user(request, slug)
    if not launch.summary_sha256:
        raise Http404("no metrics summary report: the launch is not closed")
    report = open_report(launch)
    name = summary_filename(launch)
    return FileResponse(report, as_attachment=True, filename=name, content_type="application/pdf")
