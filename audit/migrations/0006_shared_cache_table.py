"""The cache table (``CACHES`` in config/settings.py): the login throttle counts there, so every
gunicorn worker shares one count per client IP instead of each keeping its own."""

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps: Any, schema_editor: Any) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


def drop_cache_table(apps: Any, schema_editor: Any) -> None:
    for cache in settings.CACHES.values():
        if cache["BACKEND"].endswith("DatabaseCache"):
            schema_editor.execute(f"DROP TABLE IF EXISTS {schema_editor.quote_name(cache['LOCATION'])}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_people_history")]

    operations = [migrations.RunPython(create_cache_table, drop_cache_table)]
