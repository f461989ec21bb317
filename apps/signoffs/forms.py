from allauth.account.authentication import get_authentication_records
from allauth.mfa.models import Authenticator
from django import forms
from django.contrib.auth import authenticate, get_user_model

from apps.signoffs.models import Decision, Duty, GoNoGo, Role
from apps.signoffs.services import AssignmentInput, ConditionInput

CONDITION_ROWS = 3
DATETIME = forms.DateTimeInput(attrs={"type": "datetime-local"})


class SignForm(forms.Form):
    decision = forms.ChoiceField(choices=Decision.choices, widget=forms.RadioSelect)
    comment = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to reject: say why.",
    )  # fmt: skip
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="Confirm it is you: your password.",
    )
    code = forms.CharField(
        required=False,
        max_length=12,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
        help_text="Confirm it is you: the code from your authenticator app.",
    )
    digest = forms.CharField(widget=forms.HiddenInput, max_length=64)
    previous = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        for i in range(CONDITION_ROWS):
            self.fields[f"condition_{i}"] = forms.CharField(required=False, max_length=1000)
            self.fields[f"owner_{i}"] = forms.CharField(required=False, max_length=200)
            self.fields[f"due_{i}"] = forms.DateTimeField(
                required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
            )

    @property
    def totp(self):
        """The TOTP authenticator of an enrolled user: the code, not the password, is asked."""
        found = Authenticator.objects.filter(user=self.user, type=Authenticator.Type.TOTP).first()
        return found.wrap() if found else None

    def clean_password(self):
        # Re-authentication at the moment of signing, whatever the age of the session.
        password = self.cleaned_data["password"]
        if self.totp is not None:
            return ""
        if not self.user.has_usable_password():
            # An SSO-only user counts as recently authenticated for allauth; not for signing.
            raise forms.ValidationError(
                "Signing needs a second step of ours: set up an authenticator app first."
            )
        if authenticate(username=self.user.get_username(), password=password) != self.user:
            raise forms.ValidationError("That is not your password.")
        return password

    def clean_code(self):
        code = self.cleaned_data["code"].strip()
        totp = self.totp
        if totp is None:
            return ""
        # validate_code() also refuses a code already used, through the shared cache.
        if not code or not totp.validate_code(code):
            raise forms.ValidationError("That code is wrong or was already used.")
        return code

    def reauth_method(self, request) -> str:
        """How the signer confirmed it was them, as recorded with the signature: `password` or
        `totp`, prefixed `sso+` when the session itself began with single sign-on."""
        method = "totp" if self.totp is not None else "password"
        records = get_authentication_records(request, request.user)
        sso = any(record.get("method") == "socialaccount" for record in records)
        return f"sso+{method}" if sso else method

    def conditions(self) -> list[ConditionInput]:
        rows = []
        for i in range(CONDITION_ROWS):
            text = self.cleaned_data.get(f"condition_{i}") or ""
            if text.strip():
                rows.append(ConditionInput(text, self.cleaned_data.get(f"owner_{i}") or "",
                                           self.cleaned_data.get(f"due_{i}")))  # fmt: skip
        return rows

    def clean(self):
        data = super().clean()
        for i in range(CONDITION_ROWS):
            if (data.get(f"condition_{i}") or "").strip() and not data.get(f"due_{i}"):
                self.add_error(f"due_{i}", "A condition needs a due time.")
        return data


GO_WITH_OVERRIDE = "go-override"


class DecisionForm(forms.Form):
    """The decider's Go/No-Go, confirmed as a signature is: password, or TOTP once enrolled."""

    decision = forms.ChoiceField(
        choices=[(GoNoGo.GO, "Go"), (GO_WITH_OVERRIDE, "Go with override (against NO-GO)"),
                 (GoNoGo.NO_GO, "No-Go")],
        widget=forms.RadioSelect,
    )  # fmt: skip
    override_reason = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required for a Go with override: why go against the portal's NO-GO.",
    )  # fmt: skip
    attendees = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000)
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=10000,
                            required=False)  # fmt: skip
    # The sign page's re-authentication, the same fields and checks (one home: SignForm).
    password = SignForm.base_fields["password"]
    code = SignForm.base_fields["code"]
    totp = SignForm.totp
    clean_password = SignForm.clean_password
    clean_code = SignForm.clean_code

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def decision_input(self) -> dict:
        """The keyword arguments of record_decision()."""
        data = self.cleaned_data
        return {
            "decision": GoNoGo.GO if data["decision"] == GO_WITH_OVERRIDE else data["decision"],
            "override": data["decision"] == GO_WITH_OVERRIDE,
            "override_reason": data["override_reason"],
            "attendees": data["attendees"], "notes": data["notes"],
        }  # fmt: skip


class MeetingForm(forms.Form):
    """The Go/No-Go meeting record the program manager prepares for the decider."""

    attendees = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), max_length=2000,
                                required=False)  # fmt: skip
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=10000,
                            required=False)  # fmt: skip


class PersonForm(forms.Form):
    """Give someone a duty on a launch; an unknown email is invited."""

    email = forms.EmailField(max_length=254)
    name = forms.CharField(max_length=200, required=False,
                           help_text="For a new person: first and last name.")  # fmt: skip
    duty = forms.ChoiceField(choices=Duty.choices)
    role = forms.ModelChoiceField(queryset=None, required=False, to_field_name="key",
                                  help_text="For a signer.")  # fmt: skip
    delegate_of = forms.ModelChoiceField(
        queryset=None, required=False, label="Delegate of",
        help_text="Stands in for this holder of the role, within the window, for the reason.",
    )  # fmt: skip
    valid_from = forms.DateTimeField(required=False, widget=DATETIME)
    valid_until = forms.DateTimeField(required=False, widget=DATETIME)
    reason = forms.CharField(required=False, max_length=2000,
                             widget=forms.Textarea(attrs={"rows": 2}))  # fmt: skip

    def __init__(self, *args, launch, roles, holders, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].queryset = Role.objects.filter(launch=launch, retired_at__isnull=True)
        self.fields["role"].choices = [("", "—")] + [(r.key, r.name) for r in roles]
        users = get_user_model().objects.filter(pk__in=[a.user_id for a in holders])
        self.fields["delegate_of"].queryset = users
        self.fields["delegate_of"].choices = [("", "—")] + [
            (a.user_id, f"{a.user.get_full_name() or a.user.email} ({a.role.name})")
            for a in holders
        ]

    def assignment(self) -> AssignmentInput:
        data = self.cleaned_data
        return AssignmentInput(
            duty=data["duty"], role=data["role"], delegate_of=data["delegate_of"],
            valid_from=data["valid_from"], valid_until=data["valid_until"], reason=data["reason"],
        )  # fmt: skip
