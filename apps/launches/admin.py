from django import forms
from django.contrib import admin

from apps.launches.converters import launch_slug
from apps.launches.models import Activity, Launch, Phase, SequenceStep
from portal.admin import AuditedLaunchObjects, ClosedLaunchReadOnly


class PhaseInline(ClosedLaunchReadOnly, admin.TabularInline):
    model = Phase
    launch_path = ""  # an inline is given the launch itself
    extra = 0


class SequenceInline(ClosedLaunchReadOnly, admin.TabularInline):
    model = SequenceStep
    launch_path = ""
    extra = 0


class LaunchForm(forms.ModelForm):
    def clean_slug(self) -> str:
        try:
            return launch_slug(self.cleaned_data["slug"])
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error


@admin.register(Launch)
class LaunchAdmin(AuditedLaunchObjects, admin.ModelAdmin):
    form = LaunchForm
    launch_path = ""
    list_display = ("slug", "name", "version", "status", "target_t0", "start_date")
    list_filter = ("status",)
    search_fields = ("slug", "name", "version")
    inlines = [PhaseInline, SequenceInline]

    def get_readonly_fields(self, request, obj=None):
        # A launch's slug names its audit chain, its packets and its URLs: it never changes.
        return ("slug",) if obj else ()


@admin.register(Phase)
class PhaseAdmin(AuditedLaunchObjects, admin.ModelAdmin):
    list_display = ("code", "name", "launch", "start_week", "end_week")
    list_filter = ("launch",)
    search_fields = ("code", "name")


@admin.register(Activity)
class ActivityAdmin(AuditedLaunchObjects, admin.ModelAdmin):
    launch_path = "phase__launch"
    list_display = ("name", "phase", "owner", "planned_week", "status", "completed_at")
    list_filter = ("status", "phase__launch", "planned_week")
    search_fields = ("name", "owner")
    list_select_related = ("phase",)


@admin.register(SequenceStep)
class SequenceStepAdmin(AuditedLaunchObjects, admin.ModelAdmin):
    list_display = ("label", "name", "launch", "status")
    list_filter = ("launch", "status")
    search_fields = ("name",)
