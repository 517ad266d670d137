"""Create (or bring back in line) the least-privileged login role the service runs under."""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, transaction
from psycopg import sql

from audit.db_privileges import (
    APP_FUNCTIONS,
    APPEND_ONLY_PRIVILEGES,
    MUTABLE_PRIVILEGES,
    READ_ONLY_PRIVILEGES,
    ROLE_NAME,
    privilege_plan,
)

SCHEMA = "public"


class Command(BaseCommand):
    help = (
        "Create or update the application's database role: LOGIN, owns nothing, SELECT/INSERT on every "
        "table, UPDATE/DELETE only on mutable tables, never UPDATE/DELETE/TRUNCATE on append-only tables "
        "(register lines, audit events, dispensations, history). Run as the owner after each migrate."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", default=os.environ.get("DB_APP_ROLE", "ketamine_app"),
                            help="Role name (env DB_APP_ROLE, default ketamine_app).")
        parser.add_argument("--password", default=None,
                            help="Its password (env DB_APP_PASSWORD). Required to create the role; "
                                 "an existing role keeps its password when none is given.")
        parser.add_argument("--database", default="default", help="Django database alias to harden.")

    def handle(self, *args: Any, **options: Any) -> None:
        role: str = options["role"]
        password: str | None = options["password"] or os.environ.get("DB_APP_PASSWORD") or None
        if not ROLE_NAME.match(role):
            raise CommandError(f"Invalid role name {role!r}: lower-case letters, digits and _ only.")
        connection = connections[options["database"]]
        with transaction.atomic(using=options["database"]), connection.cursor() as cursor:
            raw = connection.connection

            def run(statement: sql.Composable | str, params: list[Any] | None = None) -> None:
                text = statement.as_string(raw) if isinstance(statement, sql.Composable) else statement
                cursor.execute(text, params)

            cursor.execute("SELECT current_user, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
            owner, is_super, can_create_roles = cursor.fetchone()
            if role == owner:
                raise CommandError("The application role must not be the role that owns the tables (the one running migrate).")
            if not (is_super or can_create_roles):
                raise CommandError(f"{owner} may not create roles: run harden_db as the database owner with CREATEROLE.")
            ident = sql.Identifier(role)
            attributes = sql.SQL("LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS")
            cursor.execute("SELECT oid FROM pg_roles WHERE rolname = %s", [role])
            exists = cursor.fetchone() is not None
            if not exists and not password:
                raise CommandError("Creating the role needs a password: --password or DB_APP_PASSWORD.")
            verb = sql.SQL("ALTER ROLE") if exists else sql.SQL("CREATE ROLE")
            statement = sql.SQL("{} {} {}").format(verb, ident, attributes)
            if password:
                statement = sql.SQL("{} PASSWORD {}").format(statement, sql.Literal(password))
            run(statement)
            self._refuse_owned_objects_and_memberships(cursor, role)

            # Start from nothing each run, so a privilege granted by hand or by an older run goes.
            run(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(sql.Identifier(SCHEMA), ident))
            run(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(sql.Identifier(SCHEMA), ident))
            run(sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA {} FROM {}").format(sql.Identifier(SCHEMA), ident))
            run(sql.SQL("REVOKE ALL ON SCHEMA {} FROM {}").format(sql.Identifier(SCHEMA), ident))
            # Nobody but the owner creates objects in the schema: an object the app created, it would own.
            run(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(sql.Identifier(SCHEMA)))
            cursor.execute("SELECT current_database()")
            database = cursor.fetchone()[0]
            run(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(database), ident))
            run(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), ident))

            cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [SCHEMA])
            tables = [row[0] for row in cursor.fetchall()]
            cursor.execute(
                "SELECT DISTINCT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE n.nspname = %s AND p.proname = 'ledger_refuse_change' "
                # A row trigger refusing both UPDATE and DELETE (tgtype bits 1, 8, 16); a table that
                # only refuses TRUNCATE (a state machine such as an inventory count) stays mutable.
                "AND t.tgtype::int & 25 = 25",
                [SCHEMA],
            )
            protected = {row[0] for row in cursor.fetchall()}
            plan = privilege_plan(tables=tables, protected_by_trigger=protected)
            for privileges, names in (
                (APPEND_ONLY_PRIVILEGES, plan.append_only),
                (READ_ONLY_PRIVILEGES, plan.read_only),
                (MUTABLE_PRIVILEGES, plan.mutable),
            ):
                for name in names:
                    run(sql.SQL("GRANT {} ON TABLE {}.{} TO {}").format(
                        sql.SQL(", ").join(sql.SQL(p) for p in privileges),
                        sql.Identifier(SCHEMA), sql.Identifier(name), ident,
                    ))
            # Identity columns draw from sequences: nextval (USAGE) and currval (SELECT), never setval.
            run(sql.SQL("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {} TO {}").format(sql.Identifier(SCHEMA), ident))
            # The functions the service calls (their EXECUTE is revoked from PUBLIC by their migration).
            cursor.execute(
                "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = %s AND p.proname = ANY(%s)",
                [SCHEMA, list(APP_FUNCTIONS)],
            )
            for (signature,) in cursor.fetchall():
                run(sql.SQL("GRANT EXECUTE ON FUNCTION {} TO {}").format(sql.SQL(signature), ident))

        self.stdout.write(self.style.SUCCESS(
            f"Role {role} {'updated' if exists else 'created'} in {database}: "
            f"{len(plan.append_only)} append-only tables (SELECT, INSERT), {len(plan.read_only)} read-only, "
            f"{len(plan.mutable)} mutable (SELECT, INSERT, UPDATE, DELETE); no TRUNCATE anywhere."
        ))
        for name in plan.append_only:
            self.stdout.write(f"  append-only: {name}")

    @staticmethod
    def _refuse_owned_objects_and_memberships(cursor: Any, role: str) -> None:
        """An owner bypasses grants (and may disable triggers); a member inherits another role's rights."""
        cursor.execute(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = %s)", [role]
        )
        owned = cursor.fetchone()[0]
        if owned:
            raise CommandError(f"Role {role} owns {owned} relations in this database: it must own nothing "
                               f"(REASSIGN OWNED BY {role} TO <owner>, then rerun).")
        cursor.execute(
            "SELECT count(*) FROM pg_auth_members WHERE member = (SELECT oid FROM pg_roles WHERE rolname = %s)", [role]
        )
        if cursor.fetchone()[0]:
            raise CommandError(f"Role {role} is a member of other roles and could use their rights: revoke those memberships.")
