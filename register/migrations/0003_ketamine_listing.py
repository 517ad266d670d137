"""Ships the ketamine listing with its history and the French presentations (register.listing)."""

from django.db import migrations

from register.listing import listing_load


def load(apps, schema_editor):
    listing_load(
        apps.get_model("register", "Substance"),
        apps.get_model("register", "SubstanceClassification"),
        apps.get_model("register", "Product"),
    )


class Migration(migrations.Migration):
    dependencies = [("register", "0002_append_only")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
