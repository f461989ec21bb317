"""The forms of sign-off requests: the program manager's request, a person's reminders."""

from django import forms

ALL_REQUIRED = "all-required"


class SignatureRequestForm(forms.Form):
    role = forms.ChoiceField(label="Ask")
    due_at = forms.DateTimeField(
        label="Due (UTC)", widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    message = forms.CharField(
        required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args, roles: list, **kwargs):
        super().__init__(*args, **kwargs)
        self.roles = roles
        self.fields["role"].choices = [(ALL_REQUIRED, "All required roles")] + [
            (r.key, r.name) for r in roles
        ]

    def chosen_roles(self) -> list:
        """The roles asked: the one chosen, or every required one."""
        key = self.cleaned_data["role"]
        if key == ALL_REQUIRED:
            return [r for r in self.roles if r.required]
        return [r for r in self.roles if r.key == key]


class RemindersForm(forms.Form):
    reminders = forms.ChoiceField(
        choices=[("on", "Remind me before the due date and when overdue"),
                 ("off", "No reminders (requests and invalidations still arrive)")],
        widget=forms.RadioSelect,
    )  # fmt: skip
