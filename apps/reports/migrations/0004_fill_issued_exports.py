from django.db import migrations


def fill(apps, schema_editor):
    """Exports issued before IssuedExport existed, from their `evidence.exported` audit events
    (ZIP SHA-256, the manifest's self-digest of that format, the job that built it if any)."""
    AuditEvent = apps.get_model("audit", "AuditEvent")
    ExportJob = apps.get_model("reports", "ExportJob")
    IssuedExport = apps.get_model("reports", "IssuedExport")
    Launch = apps.get_model("launches", "Launch")
    launches = dict(Launch.objects.values_list("slug", "pk"))
    events = AuditEvent.objects.filter(action="evidence.exported").order_by("sequence")
    for event in events.iterator():
        data = event.data or {}
        launch = launches.get(event.launch_slug)
        if launch is None or IssuedExport.objects.filter(sha256=event.object_key).exists():
            continue
        job = ExportJob.objects.filter(pk=data.get("job"), launch_id=launch).first()
        IssuedExport.objects.create(
            launch_id=launch,
            sha256=event.object_key,
            manifest_sha256=data.get("manifest_sha256", ""),
            size=job.size if job else None,
            issued_at=event.at,
            job=job if job and not IssuedExport.objects.filter(job=job).exists() else None,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("reports", "0003_issued_exports"),
        ("audit", "0005_fill_chain_head"),
    ]
    # Backwards: 0003 drops the table.
    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
