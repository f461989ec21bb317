from django import forms

from apps.webhooks.models import EventKind, MessageFormat
from apps.webhooks.services import WebhookRefused, check_webhook_url


class SubscriptionForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        widget=forms.URLInput(
            attrs={"size": 60, "placeholder": "https://ci.example.com/hooks/launch"}
        ),
        help_text="http or https, on a host the operators allow (SOURCE_ALLOWED_HOSTS).",
    )
    events = forms.MultipleChoiceField(
        label="Send",
        choices=EventKind.choices,
        widget=forms.CheckboxSelectMultiple,
        initial=EventKind.values,
    )
    format = forms.ChoiceField(
        label="Message format",
        choices=MessageFormat.choices,
        widget=forms.RadioSelect,
        initial=MessageFormat.PORTAL,
        required=False,  # left out (a script older than formats): the portal JSON
        help_text="Slack and Teams get a readable message at their incoming-webhook URL "
        "(its host must be allowed too).",
    )

    def clean_format(self) -> str:
        return self.cleaned_data["format"] or MessageFormat.PORTAL

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_webhook_url(url)
        except WebhookRefused as exc:
            raise forms.ValidationError(f"This URL cannot be used: {exc}") from None
        return url
