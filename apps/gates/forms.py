from django import forms
from django.conf import settings


class AttestationForm(forms.Form):
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=5000,
        help_text="What you checked, and how.",
    )
    evidence = forms.FileField(required=False, help_text="Optional: a document that shows it.")

    def clean_evidence(self):
        upload = self.cleaned_data.get("evidence")
        if upload and upload.size > settings.REPORT_MAX_BYTES:
            raise forms.ValidationError(
                f"the file is {upload.size:,} bytes; the limit is {settings.REPORT_MAX_BYTES:,}"
            )
        return upload


class WaiverForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=5000)
    expires_at = forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="UTC. The waiver stops counting at this moment.",
    )


class WaiverDecisionForm(forms.Form):
    """Refuse or revoke a waiver: the reason is required and kept."""

    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=5000)
