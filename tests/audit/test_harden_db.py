"""`manage.py harden_db`: the application role cannot change a ledger line, even with the trigger off."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from psycopg import errors as pg_errors

from audit.db_privileges import APPEND_ONLY_TABLES
from audit.models import AuditEvent
from register.models import Movement

ROOT = Path(__file__).resolve().parents[2]


def _server() -> dict[str, Any]:
    """Where the test database is: a TCP host, or the embedded server's socket directory."""
    params = connection.get_connection_params()
    return {key: params[key] for key in ("host", "port", "dbname") if params.get(key)}


def _connect(role: str) -> psycopg.Connection[Any]:
    return psycopg.connect(**_server(), user=role, password="app-pass-2026", autocommit=True)


def _drop_role(role: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone():
            cursor.execute(f'DROP OWNED BY "{role}"')
            cursor.execute(f'DROP ROLE "{role}"')


@pytest.fixture
def app_role(committed_db: Any) -> Iterator[str]:
    """A fresh application role, unique to this run, hardened then dropped."""
    role = f"test_app_{uuid.uuid4().hex[:10]}"
    call_command("harden_db", role=role, password="app-pass-2026", stdout=StringIO())
    try:
        yield role
    finally:
        _drop_role(role)


@pytest.mark.parametrize("table", ["register_movement", "audit_auditevent"])
def test_the_app_role_cannot_change_a_line_even_with_the_trigger_disabled(app_role, demo, table):
    """Owner disables the triggers; the app role still gets permission denied on UPDATE/DELETE/TRUNCATE."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} ORDER BY id LIMIT 1")
        line_id = cursor.fetchone()[0]
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        # The trigger really is off: the owner's own UPDATE goes through (rolled back).
        with psycopg.connect(**_server(), user=connection.settings_dict["USER"]) as owner:
            assert owner.execute(f"UPDATE {table} SET id = id WHERE id = %s", [line_id]).rowcount == 1
            owner.rollback()
        with _connect(app_role) as app:
            assert app.execute(f"SELECT count(*) FROM {table} WHERE id = %s", [line_id]).fetchone() == (1,)
            for statement in (
                f"UPDATE {table} SET id = id WHERE id = {line_id}",
                f"DELETE FROM {table} WHERE id = {line_id}",
                f"TRUNCATE {table} CASCADE",
                f"ALTER TABLE {table} ENABLE TRIGGER USER",
            ):
                with pytest.raises((pg_errors.InsufficientPrivilege, pg_errors.UndefinedObject)):
                    app.execute(statement)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table} WHERE id = %s", [line_id])
        assert cursor.fetchone() == (1,)


def test_the_app_role_keeps_what_the_service_needs(app_role, demo):
    """SELECT/INSERT everywhere, UPDATE on mutable tables (stock cache, register head), no TRUNCATE."""
    with _connect(app_role) as app:
        privileges = dict(
            app.execute(
                "SELECT tablename, array[has_table_privilege(current_user, tablename, 'SELECT'), "
                "has_table_privilege(current_user, tablename, 'INSERT'), "
                "has_table_privilege(current_user, tablename, 'UPDATE'), "
                "has_table_privilege(current_user, tablename, 'DELETE'), "
                "has_table_privilege(current_user, tablename, 'TRUNCATE')] "
                "FROM pg_tables WHERE schemaname = 'public'"
            ).fetchall()
        )
        assert privileges["register_movement"] == [True, True, False, False, False]
        assert privileges["audit_auditevent"] == [True, True, False, False, False]
        assert privileges["register_historicallot"] == [True, True, False, False, False]
        assert privileges["django_migrations"] == [True, False, False, False, False]
        # Workflow records guarded by the register's trigger are append-only; an inventory count,
        # a state machine whose only ledger trigger refuses TRUNCATE, stays updatable.
        assert privileges["operations_wardreturn"] == [True, True, False, False, False]
        for mutable in ("register_registerhead", "register_stockbalance", "authtoken_token", "django_session", "auth_user",
                        "operations_inventorycount", "audit_idempotencykey"):
            assert privileges[mutable] == [True, True, True, True, False], mutable
        for table in APPEND_ONLY_TABLES:
            if table in privileges:
                assert privileges[table][2:] == [False, False, False], table
        owned = app.execute("SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)")
        assert owned.fetchone() == (0,)
        attributes = app.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, rolbypassrls FROM pg_roles WHERE rolname = current_user")
        assert attributes.fetchone() == (False, False, False, False)
        with pytest.raises(pg_errors.InsufficientPrivilege):
            app.execute("CREATE TABLE app_owned (id int)")


def test_the_service_runs_under_the_app_role(app_role, demo, lot_50):
    """The service works connected as the app role: a register line (head, stock, audit), an inventory."""
    server = _server()
    location = f"host={quote(str(server.get('host', '127.0.0.1')))}&port={server.get('port', 5432)}"
    url = f"postgresql://{app_role}:app-pass-2026@/{server['dbname']}?{location}"
    script = (
        "from django.db import connection; from django.contrib.auth.models import User; "
        "from register import services; from register.models import Lot; "
        "print(connection.cursor().execute('SELECT current_user').fetchone()[0]); "
        f"line = services.movement_record(actor=User.objects.get(username='pharmacist'), lot=Lot.objects.get(pk={lot_50.pk}), "
        "direction='exit', reason='loss', quantity=1, counterparty='casse'); "
        # A state machine row (inventory count) is updated under the role too.
        "from operations import services as ops; from register.models import Location; "
        "count = ops.inventory_open(actor=line.recorded_by, location=Location.objects.get(establishment=line.establishment, code='REA')); "
        "ops.inventory_submit(actor=line.recorded_by, count=count); "
        "print(line.number, line.balance_after)"
    )
    env = {**os.environ, "DATABASE_URL": url}
    result = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    user, line = result.stdout.strip().splitlines()[-2:]
    number, balance = (int(value) for value in line.split())
    assert user == app_role
    assert Movement.objects.get(establishment=demo["DEMO"], number=number).balance_after == balance
    assert AuditEvent.objects.filter(action="register.movement.recorded", object_id=str(
        Movement.objects.get(establishment=demo["DEMO"], number=number).pk)).count() == 1


def test_harden_db_is_idempotent_and_refuses_unsafe_roles(committed_db):
    """A second run updates the same role; a bad name, a missing password or the owner itself are refused."""
    role = f"test_app_{uuid.uuid4().hex[:10]}"
    try:
        out = StringIO()
        call_command("harden_db", role=role, password="app-pass-2026", stdout=out)
        call_command("harden_db", role=role, stdout=out)
        assert f"Role {role} created" in out.getvalue() and f"Role {role} updated" in out.getvalue()
        with pytest.raises(CommandError, match="Invalid role name"):
            call_command("harden_db", role="app; DROP TABLE x", password="p", stdout=StringIO())
        with pytest.raises(CommandError, match="needs a password"):
            call_command("harden_db", role=f"{role}_new", stdout=StringIO())
        with pytest.raises(CommandError, match="must not be the role that owns"):
            call_command("harden_db", role=connection.settings_dict["USER"], stdout=StringIO())
    finally:
        _drop_role(role)
