"""The launch's webhooks page: thin doors onto apps.webhooks.services, for launch admins."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from apps.webhooks import services
from apps.webhooks.forms import SubscriptionForm
from apps.webhooks.models import WebhookDelivery, WebhookSubscription
from portal.launch_access import get_launch_for_admin


@login_required
@require_http_methods(["GET", "POST"])
def webhook_list(request: HttpRequest, slug: str) -> HttpResponse:
    """Subscriptions and the recent delivery log; POST subscribes a URL.

    The answer to a subscription shows its secret, this once (it is never listed again), so it
    renders the page rather than redirecting.
    """
    launch = get_launch_for_admin(request, slug, managing="webhooks")
    form = SubscriptionForm(request.POST or None)
    created = None
    if request.method == "POST" and form.is_valid():
        created = services.create_subscription(
            launch=launch, actor=request.user, **form.cleaned_data
        )
        form = SubscriptionForm()
    context = {
        "launch": launch,
        "form": form,
        "created": created,
        "subscriptions": list(WebhookSubscription.objects.for_launch(launch)),
        "deliveries": list(WebhookDelivery.objects.recent_for_launch(launch)),
    }
    status = 400 if form.errors else 201 if created else 200
    return render(request, "webhooks/list.html", context, status=status)


@login_required
@require_POST
def webhook_deactivate(request: HttpRequest, slug: str, pk: int) -> HttpResponse:
    launch = get_launch_for_admin(request, slug, managing="webhooks")
    subscription = get_object_or_404(
        WebhookSubscription.objects.select_related("launch"), launch=launch, pk=pk
    )
    if services.deactivate_subscription(subscription=subscription, actor=request.user):
        messages.success(request, f"Deliveries to {subscription.url} stopped.")
    return redirect("launches:webhooks", slug=launch.slug)
