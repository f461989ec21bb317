"""The plan edited as code: /launches/import/ (a new launch, staff), /launches/<slug>/spec/ (an
update, the launch's admins) preview a spec's changes and apply them (apps/launches/
spec_editing.py); /launches/<slug>/spec.yaml downloads the current spec."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from apps.launches.models import Launch
from apps.signoffs.permissions import can_import_launch
from apps.specs.services import export_launch_spec
from apps.specs.spec import MAX_SPEC_BYTES, SpecError
from apps.specs.spec_editing import SpecStale, apply_spec, preview_spec
from portal.launch_access import get_launch_for_admin

MANAGING = "plan"


@login_required
@require_http_methods(["GET", "POST"])
def spec_import(request: HttpRequest) -> HttpResponse:
    if not can_import_launch(request.user):
        raise PermissionDenied("only staff create launches")
    return _spec_page(request, None)


@login_required
@require_http_methods(["GET", "POST"])
def spec_edit(request: HttpRequest, slug: str) -> HttpResponse:
    return _spec_page(request, get_launch_for_admin(request, slug, managing=MANAGING))


@login_required
@require_GET
def spec_download(request: HttpRequest, slug: str) -> HttpResponse:
    launch = get_launch_for_admin(request, slug, managing=MANAGING)
    response = HttpResponse(
        export_launch_spec(launch), content_type="application/yaml; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{launch.slug}.yaml"'
    return response


def _spec_page(request: HttpRequest, launch: Launch | None) -> HttpResponse:
    if request.method == "GET":
        return _render(request, launch)
    if "apply" in request.POST:
        return _apply(request, launch)
    try:
        preview = preview_spec(raw=_posted_spec(request), launch=launch)
    except SpecError as refused:
        text = request.POST.get("spec", "")
        return _render(request, launch, errors=refused.errors, text=text, status=400)
    return _render(request, launch, preview=preview, text=preview.text)


def _apply(request: HttpRequest, launch: Launch | None) -> HttpResponse:
    post = request.POST
    try:
        result = apply_spec(raw=post.get("spec", ""), sha256=post.get("sha256", ""),
                            base_sha256=post.get("base_sha256", ""), launch=launch,
                            actor=request.user)  # fmt: skip
    except SpecStale as stale:
        return _render(request, launch, errors=[str(stale)], text=post.get("spec", ""), status=409)
    except SpecError as refused:
        return _render(
            request, launch, errors=refused.errors, text=post.get("spec", ""), status=400
        )
    messages.success(request, "Applied: " + "; ".join(result.summary()) + ".")
    return redirect("launches:overview", slug=result.launch.slug)


def _posted_spec(request: HttpRequest) -> bytes | str:
    """The uploaded file, else the pasted text; refused before reading when over the cap."""
    upload = request.FILES.get("file")
    if upload is not None:
        if upload.size > MAX_SPEC_BYTES:
            raise SpecError([f"spec: {upload.size:,} bytes is over the limit of "
                             f"{MAX_SPEC_BYTES:,}"])  # fmt: skip
        return upload.read()
    text = request.POST.get("spec", "")
    if not text.strip():
        raise SpecError(["spec: paste a spec or choose a file"])
    return text


def _render(request, launch, *, preview=None, errors=(), text="", status=200) -> HttpResponse:
    context = {"launch": launch, "preview": preview, "errors": errors,
               "text": text if len(text) <= MAX_SPEC_BYTES else ""}  # fmt: skip
    return render(request, "launches/spec.html", context, status=status)
