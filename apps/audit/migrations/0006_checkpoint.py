from django.db import migrations, models

# Checkpoints are kept as the events are: PostgreSQL refuses UPDATE, DELETE and TRUNCATE (the
# TRUNCATE function is 0003's). SQLite (embedded mode) relies on the signatures.
APPEND_ONLY = """
CREATE OR REPLACE FUNCTION audit_checkpoint_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_checkpoint is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint
  FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_append_only();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint
  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
"""
DROP = """
DROP TRIGGER IF EXISTS audit_checkpoint_no_truncate ON audit_checkpoint;
DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_checkpoint;
DROP FUNCTION IF EXISTS audit_checkpoint_append_only();
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(APPEND_ONLY, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_fill_chain_head")]

    operations = [
        migrations.CreateModel(
            name="Checkpoint",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("chain", models.CharField(max_length=80)),
                ("sequence", models.PositiveBigIntegerField()),
                ("head_hash", models.CharField(max_length=64)),
                ("at", models.DateTimeField()),
                (
                    "signature",
                    models.TextField(help_text="Detached JWS over checkpoint_payload()."),
                ),
                ("certificate_sha256", models.CharField(max_length=64)),
            ],
            options={
                "indexes": [
                    models.Index(fields=["-at", "-id"], name="audit_checkpoint_newest")
                ],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("chain", "sequence"), name="audit_checkpoint_once"
                    )
                ],
            },
        ),
        migrations.RunPython(forwards, backwards),
    ]
