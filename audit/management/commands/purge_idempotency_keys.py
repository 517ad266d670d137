"""Delete idempotency keys older than the retention (``IDEMPOTENCY_KEY_RETENTION_DAYS``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import audit_record
from config.idempotency import idempotency_keys_purge


class Command(BaseCommand):
    help = (
        "Delete the Idempotency-Key records older than --days (default IDEMPOTENCY_KEY_RETENTION_DAYS): "
        "a retry that old cannot come any more. The writes themselves stay in the register. Run daily (cron)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=settings.IDEMPOTENCY_KEY_RETENTION_DAYS)

    def handle(self, *args: Any, days: int, **options: Any) -> None:
        if days < 1:
            raise CommandError("--days must be at least 1: a client may still be retrying a key of today.")
        deleted = idempotency_keys_purge(older_than=dt.timedelta(days=days))
        audit_record(action="idempotency.keys.purged", actor_username="manage.py", data={"days": days, "deleted": deleted})
        self.stdout.write(f"{deleted} idempotency key(s) older than {days} day(s) deleted.")
