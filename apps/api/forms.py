from django import forms

from apps.api.models import ApiToken, Scope


class TokenForm(forms.Form):
    """A new token of a launch: a name its admins recognise, and what it may do."""

    name = forms.CharField(max_length=100, help_text="Who uses it, e.g. github-actions.")
    scopes = forms.MultipleChoiceField(
        choices=Scope.choices, widget=forms.CheckboxSelectMultiple, initial=[Scope.INGEST]
    )

    def __init__(self, *args, launch, **kwargs):
        super().__init__(*args, **kwargs)
        self.launch = launch

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if ApiToken.objects.filter(launch=self.launch, name=name).exists():
            raise forms.ValidationError("This launch already has a token of that name.")
        return name
