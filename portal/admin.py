from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records (measurements, evidence, audit events): listed, never changed."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The foreign keys whose choices leave closed launches out: (field name, the lookup of "open").
OPEN_CHOICES = {"launch": "closed_at__isnull", "phase": "launch__closed_at__isnull"}


class ClosedLaunchReadOnly:
    """For the admins of a launch and of what belongs to one: a closed launch's objects are
    listed and shown, never changed or deleted (Launch.refuse_if_closed is the rule elsewhere).

    `launch_path` leads from the object to its launch ("launch", "phase__launch"; "" for a
    launch itself). In an inline the object given is the parent, so the path starts there.
    """

    launch_path = "launch"

    def launch_of(self, obj):
        for name in filter(None, self.launch_path.split("__")):
            obj = getattr(obj, name, None)
        return obj

    def is_closed(self, obj) -> bool:
        launch = self.launch_of(obj) if obj is not None else None
        return launch is not None and launch.closed_at is not None

    def has_add_permission(self, request, *obj):  # an inline is given its parent: `obj`
        return not self.is_closed(obj[0] if obj else None) and super().has_add_permission(
            request, *obj
        )

    def has_change_permission(self, request, obj=None):
        return not self.is_closed(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self.is_closed(obj) and super().has_delete_permission(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        # Nothing is moved or added into a closed launch either: its choices are left out.
        open_only = OPEN_CHOICES.get(db_field.name)
        if open_only:
            kwargs["queryset"] = db_field.remote_field.model.objects.filter(**{open_only: True})
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
