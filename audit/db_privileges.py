"""Least privilege in the database: what the application's login role may do to each table.

The service runs as a role that owns nothing. An owner (or a superuser) can disable the
append-only triggers; a role that merely holds SELECT and INSERT on a ledger table cannot, and
cannot UPDATE, DELETE or TRUNCATE it either: the guarantee then survives a stolen application
password. Migrations run as the owner; ``harden_db`` is rerun after each ``migrate``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# Tables whose rows are never changed once written (CSP R.5132-36 for the register). An app
# adding one appends its table name here; tables carrying the append-only trigger of
# register/migrations/_append_only_sql.py are found in the database and treated alike.
APPEND_ONLY_TABLES: tuple[str, ...] = (
    "register_movement",
    "audit_auditevent",
    "prescriptions_dispensation",
    "prescriptions_prescriptionline",
    "register_monthlyclosing",
)

# django-simple-history keeps the before/after of reference data: only ever inserted.
HISTORY_TABLE = re.compile(r"^[a-z0-9_]+_historical[a-z0-9_]+$")

# Database functions the application calls (register/migrations/0005_register_append.py): EXECUTE
# is granted on these only, and revoked from PUBLIC by their migration.
APP_FUNCTIONS: tuple[str, ...] = ("register_append",)

# Read by the application, written by `migrate` (as the owner) only.
READ_ONLY_TABLES: tuple[str, ...] = ("django_migrations",)

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

APPEND_ONLY_PRIVILEGES = ("SELECT", "INSERT")
READ_ONLY_PRIVILEGES = ("SELECT",)
MUTABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE")


@dataclass
class PrivilegePlan:
    append_only: list[str] = field(default_factory=list)
    read_only: list[str] = field(default_factory=list)
    mutable: list[str] = field(default_factory=list)


def privilege_plan(*, tables: list[str], protected_by_trigger: set[str]) -> PrivilegePlan:
    """Sort the schema's tables into what the application role gets on each."""
    plan = PrivilegePlan()
    for table in sorted(tables):
        if table in APPEND_ONLY_TABLES or table in protected_by_trigger or HISTORY_TABLE.match(table):
            plan.append_only.append(table)
        elif table in READ_ONLY_TABLES:
            plan.read_only.append(table)
        else:
            plan.mutable.append(table)
    return plan
