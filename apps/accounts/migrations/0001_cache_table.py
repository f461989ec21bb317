"""The table of the shared database cache (allauth's login rate limits live there).

The table name is fixed here, not read from settings.CACHES, so the migration does the same thing
whatever cache is configured when it runs: switching from Redis (CACHE_URL) to the database cache
later finds the table in place. settings.CACHES names the same table (LOCATION).
"""

from django.core.management import call_command
from django.db import migrations

CACHE_TABLE = "portal_cache"


def create_cache_table(apps, schema_editor):
    # createcachetable with an explicit name skips a table that already exists.
    call_command(
        "createcachetable", CACHE_TABLE, database=schema_editor.connection.alias, verbosity=0
    )


def drop_cache_table(apps, schema_editor):
    quoted = schema_editor.quote_name(CACHE_TABLE)
    schema_editor.execute(f"DROP TABLE IF EXISTS {quoted}", params=None)


class Migration(migrations.Migration):
    dependencies = []
    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
