"""The register is append-only, enforced by PostgreSQL (CSP R.5132-36: no modification after
validation). The triggers fire for every role, the table owner included; only a superuser can
switch them off, and the hash chain then shows what was changed."""

from django.db import migrations

from register.migrations._append_only_sql import FUNCTION, protect, unprotect


class Migration(migrations.Migration):
    dependencies = [("register", "0001_initial")]

    operations = [
        migrations.RunSQL(FUNCTION, "DROP FUNCTION IF EXISTS ledger_refuse_change() CASCADE;"),
        migrations.RunSQL(protect("register_movement"), unprotect("register_movement")),
    ]
