"""DJANGO_ENV=production: `manage.py check --deploy` is silent; unsafe or missing values stop the start."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = secrets.token_urlsafe(50)


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "LOGIN_"))}
    # The same PostgreSQL server the tests use (DATABASE_URL of the test run).
    base.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    base.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


PRODUCTION = {"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": STRONG_KEY, "DJANGO_ALLOWED_HOSTS": "registre.chu.example"}


def test_check_deploy_reports_nothing_under_production_settings():
    """check --deploy exits 0 with no warning at all."""
    result = _run("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert "WARNINGS" not in result.stdout + result.stderr


def test_the_secret_may_come_from_a_file(tmp_path):
    """DJANGO_SECRET_KEY_FILE (a Docker/systemd secret) works like DJANGO_SECRET_KEY."""
    secret = tmp_path / "secret_key"
    secret.write_text(STRONG_KEY + "\n")
    env = {**PRODUCTION, "DJANGO_SECRET_KEY": "", "DJANGO_SECRET_KEY_FILE": str(secret)}
    result = _run("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_development_settings_do_warn_under_check_deploy():
    """The check itself bites: the development defaults raise deployment warnings."""
    result = _run("check", "--deploy", "--fail-level", "WARNING", DJANGO_ENV="development")
    assert result.returncode != 0 and "security.W018" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"DJANGO_SECRET_KEY": ""}, "DJANGO_SECRET_KEY (or DJANGO_SECRET_KEY_FILE) must be set"),
        ({"DJANGO_SECRET_KEY": "short-secret"}, "DJANGO_SECRET_KEY is too weak"),
        ({"DJANGO_SECRET_KEY": "", "DJANGO_SECRET_KEY_FILE": "/nonexistent/secret"}, "cannot be read"),
        ({"DJANGO_ALLOWED_HOSTS": ""}, "DJANGO_ALLOWED_HOSTS must list"),
        ({"DJANGO_DEBUG": "1"}, "DJANGO_DEBUG must be off"),
        ({"DATABASE_URL": ""}, "DATABASE_URL must name"),
        ({"DJANGO_ENV": "prod"}, "DJANGO_ENV must be development, test or production"),
    ],
)
def test_an_unsafe_or_missing_production_value_stops_the_start(change, message):
    """The start fails with ImproperlyConfigured and a message naming what to set."""
    result = _run("check", **{**PRODUCTION, **change})
    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr and message in result.stderr
