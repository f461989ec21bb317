"""Query-string filters of the read API (django-filter); a bad value answers 400.

Strict on purpose: a parameter given with an empty or malformed value is an error rather than
silently no filter at all, so that a typo in a CI script does not read the whole launch.
"""

import django_filters as filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.gates.models import Gate, GateStatus, Measurement, Waiver
from apps.launches.models import Activity, Launch
from apps.signoffs.models import LaunchDecision, SignOff

BOOLEANS = ("true", "false")


class StrictForm(forms.Form):
    """Refuses `?since=` (empty) and booleans other than true/false, which django-filter ignores."""

    def clean(self):
        cleaned = super().clean()
        for name, field in self.fields.items():
            given = self.data.getlist(name) if hasattr(self.data, "getlist") else []
            if any(not value.strip() for value in given):
                self.add_error(name, "Give a value, or leave the parameter out.")
            elif isinstance(field, forms.NullBooleanField) and set(given) - set(BOOLEANS):
                self.add_error(name, "Use true or false.")
        return cleaned


class FilterSet(filters.FilterSet):
    def get_form_class(self):
        fields = {name: f.field for name, f in self.filters.items()}
        return type(f"{type(self).__name__}Form", (StrictForm,), fields)


class IntegerFilter(filters.NumberFilter):
    field_class = forms.IntegerField


class LaunchFilter(FilterSet):
    class Meta:
        model = Launch
        fields = ["status"]


class ActivityFilter(FilterSet):
    phase = filters.CharFilter(field_name="phase__code", help_text="Phase code.")
    owner = filters.CharFilter(lookup_expr="icontains", help_text="Part of the owner's name.")
    planned_week = IntegerFilter()

    class Meta:
        model = Activity
        fields = ["phase", "status", "owner", "planned_week"]


class GateFilter(FilterSet):
    # The status is derived in Python (staleness, waivers): the view applies it after the query.
    status = filters.ChoiceFilter(
        choices=GateStatus.choices, method="by_status", help_text="Current status."
    )

    class Meta:
        model = Gate
        fields = ["category", "dimension", "blocking", "source", "status"]

    def by_status(self, queryset, name, value):
        return queryset


class MeasurementFilter(FilterSet):
    since = filters.IsoDateTimeFilter(
        field_name="evaluated_at", lookup_expr="gte", help_text="Evaluated at or after (ISO 8601)."
    )
    until = filters.IsoDateTimeFilter(
        field_name="evaluated_at", lookup_expr="lt", help_text="Evaluated before (ISO 8601)."
    )

    class Meta:
        model = Measurement
        fields = ["since", "until", "status"]


class WaiverFilter(FilterSet):
    gate = filters.CharFilter(field_name="gate__key", help_text="Gate key.")
    active = filters.BooleanFilter(
        method="by_active", help_text="Approved, not revoked and not expired."
    )

    class Meta:
        model = Waiver
        fields = ["gate", "active"]

    def by_active(self, queryset, name, value):
        live = Q(granted_at__isnull=False, revoked_at__isnull=True, expires_at__gt=timezone.now())
        return queryset.filter(live) if value else queryset.exclude(live)


class SignOffFilter(FilterSet):
    role = filters.CharFilter(field_name="role__key", help_text="Role key.")
    active = filters.BooleanFilter(
        field_name="superseded_at", lookup_expr="isnull", help_text="Not superseded by a newer one."
    )
    valid = filters.BooleanFilter(method="by_valid", help_text="Active and not invalidated.")

    class Meta:
        model = SignOff
        fields = ["role", "decision", "active", "valid"]

    def by_valid(self, queryset, name, value):
        valid = Q(superseded_at__isnull=True, invalidated_at__isnull=True)
        return queryset.filter(valid) if value else queryset.exclude(valid)


class DecisionFilter(FilterSet):
    class Meta:
        model = LaunchDecision
        fields = ["decision"]


class AuditEventFilter(FilterSet):
    actor = filters.CharFilter(field_name="actor_name", lookup_expr="icontains")
    action = filters.CharFilter(lookup_expr="startswith", help_text="e.g. `gate.` or `signoff.`")
    object = filters.CharFilter(field_name="object_key", lookup_expr="icontains")
    since = filters.IsoDateTimeFilter(field_name="at", lookup_expr="gte")
    until = filters.IsoDateTimeFilter(field_name="at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["actor", "action", "object", "since", "until"]
