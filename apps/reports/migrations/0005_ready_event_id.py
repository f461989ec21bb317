from django.db import migrations, models


class Migration(migrations.Migration):
    """A ready packet's job names its launch.ready event by id from now on: audit sequences are
    per chain (audit 0007), so two launches' events can share one. The rows so far hold the
    sequence of the one chain there was; each is at most the id of its event, and every new
    event's id is above all of them, so they stay unique together."""

    dependencies = [("reports", "0004_fill_issued_exports"), ("audit", "0007_event_chain")]

    operations = [
        migrations.AlterField(
            model_name="packetjob",
            name="ready_event",
            field=models.PositiveBigIntegerField(
                blank=True, help_text="The launch.ready audit event's id.", null=True, unique=True
            ),
        ),
    ]
