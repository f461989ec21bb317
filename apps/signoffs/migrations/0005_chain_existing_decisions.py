# Decisions recorded before `supersedes` existed: each launch's, oldest first, chained so that
# only the newest is current (LaunchDecision.objects.current()).

from django.db import migrations


def chain(apps, schema_editor):
    LaunchDecision = apps.get_model("signoffs", "LaunchDecision")
    previous = {}  # launch id -> the decision before
    for decision in LaunchDecision.objects.order_by("launch_id", "decided_at", "id"):
        before = previous.get(decision.launch_id)
        if before is not None and decision.supersedes_id is None:
            decision.supersedes_id = before.pk
            decision.save(update_fields=["supersedes"])
        previous[decision.launch_id] = decision


class Migration(migrations.Migration):

    dependencies = [
        ('signoffs', '0004_decision_override_and_meeting'),
    ]

    operations = [
        migrations.RunPython(chain, migrations.RunPython.noop),
    ]
