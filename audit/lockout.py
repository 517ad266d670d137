"""Lock out repeated failed logins, per username and client IP, from the audit trail itself.

The failures are already audit events (``auth.login.failed`` with the typed username and the
client IP), so the lockout counts them instead of keeping a second, forgettable store: it holds
across worker processes and restarts, and what locked an account is visible to the inspector.
``LOGIN_LOCKOUT["FAILURES"]`` failures within ``LOGIN_LOCKOUT["MINUTES"]`` (since the user's last
successful login) lock that username from that IP until the oldest of them leaves the window.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from audit.models import AuditEvent

LOGIN_FAILED = "auth.login.failed"
LOGIN_LOCKED = "auth.login.locked"
LOGIN_SUCCEEDED = "auth.login.succeeded"


def login_lockout_remaining(*, username: str, ip_address: str | None) -> int:
    """Seconds this username stays locked from this IP; 0 when a login may be tried."""
    failures_allowed = int(settings.LOGIN_LOCKOUT["FAILURES"])
    window = dt.timedelta(minutes=int(settings.LOGIN_LOCKOUT["MINUTES"]))
    if failures_allowed <= 0 or not username:
        return 0
    now = timezone.now()
    since = now - window
    last_success = AuditEvent.objects.filter(
        action=LOGIN_SUCCEEDED, actor_username=username, occurred_at__gte=since
    ).aggregate(last=Max("occurred_at"))["last"]
    if last_success is not None:
        since = max(since, last_success)
    failures = AuditEvent.objects.filter(action=LOGIN_FAILED, actor_username=username, occurred_at__gt=since)
    failures = failures.filter(ip_address=ip_address) if ip_address else failures.filter(ip_address__isnull=True)
    recent = list(failures.order_by("-occurred_at").values_list("occurred_at", flat=True)[:failures_allowed])
    if len(recent) < failures_allowed:
        return 0
    return max(1, math.ceil((recent[-1] + window - now).total_seconds()))


def login_attempts_serialise(*, username: str, ip_address: str | None) -> None:
    """Take a transaction-level lock on (username, IP); call inside ``transaction.atomic()``.

    Without it, N parallel guesses would all read "fewer than N failures" before any of them is
    recorded, and an attacker would get as many guesses as requests in flight.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"login:{username}:{ip_address or '-'}"])


def request_ip(request: Any) -> str | None:
    from audit.middleware import client_ip

    return client_ip(request) if request is not None else None
