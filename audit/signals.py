"""Every login is an audit event (DOMAIN.md §5): token logins, web logins, admin logins, logouts.

Django sends ``user_login_failed`` from ``authenticate()`` whatever the entry point, so failures
are recorded here and only here (the token view does not record them again). Successful web
logins go through ``django.contrib.auth.login()``, which sends ``user_logged_in``; the token
endpoint does not call it and records its own success.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from audit.lockout import LOGIN_FAILED, LOGIN_LOCKED, LOGIN_SUCCEEDED, login_lockout_remaining, request_ip
from audit.services import audit_record


def login_channel(request: Any) -> str:
    path = getattr(request, "path", "") or ""
    if path.startswith("/api/"):
        return "token"
    if path.startswith("/admin/"):
        return "admin"
    return "session"


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def audit_login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    username = str(credentials.get("username") or "")[:150]
    remaining = login_lockout_remaining(username=username, ip_address=request_ip(request))
    # A refused attempt while locked is its own action, so that it does not extend the lockout.
    audit_record(
        action=LOGIN_LOCKED if remaining else LOGIN_FAILED,
        actor_username=username,
        data={"via": login_channel(request), **({"retry_after": remaining} if remaining else {})},
    )


@receiver(user_logged_in, dispatch_uid="audit-logged-in")
def audit_logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    audit_record(action=LOGIN_SUCCEEDED, actor=user, data={"via": login_channel(request)})


@receiver(user_logged_out, dispatch_uid="audit-logged-out")
def audit_logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit_record(action="auth.logout", actor=user, data={"via": login_channel(request)})
