"""Audit events are append-only like the register lines they describe."""

from django.db import migrations

from register.migrations import _append_only_sql as sql


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial"), ("register", "0002_append_only")]

    operations = [migrations.RunSQL(sql.protect("audit_auditevent"), sql.unprotect("audit_auditevent"))]
