from django.contrib import admin
from django.db import models, transaction

from apps.audit.services import record
from apps.gates import rows


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
        return _follow(obj, self.launch_path)

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


class AuditedLaunchObjects(ClosedLaunchReadOnly):
    """For the admins of a launch and of what belongs to one, besides ClosedLaunchReadOnly: each
    save and delete made here (inline rows included) is an event of the launch's audit chain,
    `admin.<model>.created|changed|deleted` with the fields changed, old and new, recorded in
    the transaction of the change; and the launch's cached gate rows are made stale
    (apps/gates/rows.py), as every service that writes what a row shows does.

    The admin is a superuser's door around the pages' services: it may change a gate's rule or a
    launch's settings, but never without a record.
    """

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            fields = _changes(form, form.changed_data) if change else None
            self.record_write(request, obj, "changed" if change else "created", fields)

    def delete_model(self, request, obj):
        with transaction.atomic():
            self.record_write(request, obj, "deleted")
            super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset:
                self.record_write(request, obj, "deleted")
            super().delete_queryset(request, queryset)

    def save_formset(self, request, form, formset, change):
        """An inline's rows belong to the launch of the object they are edited with."""
        launch = self.launch_of(form.instance)
        with transaction.atomic():
            doomed = [f.instance for f in formset.deleted_forms if f.instance.pk is not None]
            for obj in doomed:
                self.record_write(request, obj, "deleted", launch=launch)
            super().save_formset(request, form, formset, change)
            for obj in formset.new_objects:
                self.record_write(request, obj, "created", launch=launch)
            changed_forms = {f.instance.pk: f for f in formset.forms if f.has_changed()}
            for obj, names in formset.changed_objects:
                fields = _changes(changed_forms[obj.pk], names) if obj.pk in changed_forms else None
                self.record_write(request, obj, "changed", fields, launch=launch)

    def record_write(self, request, obj, verb: str, fields=None, *, launch=None) -> None:
        launch = launch or self.launch_of(obj)
        model = obj._meta.model_name
        data = {"object": str(obj), **({"fields": fields} if fields else {})}
        record(actor=request.user, action=f"admin.{model}.{verb}",
               launch_slug=launch.slug if launch else "", obj_type=model,
               obj_key=str(obj.pk), data=data)  # fmt: skip
        if launch is not None:
            rows.bump(launch.pk, rows.EVERYTHING)


def _changes(form, names) -> dict:
    """{field: [old, new]} of the fields `names` the admin's form changed."""
    return {name: [_plain(form.initial.get(name)), _plain(form.cleaned_data.get(name))]
            for name in names}  # fmt: skip


def _follow(obj, path: str):
    for name in filter(None, path.split("__")):
        obj = getattr(obj, name, None)
    return obj


def _plain(value):
    """A field's value as the audit event keeps it: a related object by its key."""
    return value.pk if isinstance(value, models.Model) else value
