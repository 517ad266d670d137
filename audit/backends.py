"""The authentication backend: Django's model backend, refusing a locked-out username+IP.

It covers every password login, the API token endpoint and the web login pages alike. A refusal
raises PermissionDenied, which makes ``authenticate()`` stop, send ``user_login_failed`` (audited
as ``auth.login.locked`` by ``audit.signals``) and return None, without checking the password.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from audit.lockout import login_lockout_remaining, request_ip


class LockoutModelBackend(ModelBackend):
    def authenticate(self, request: Any, username: str | None = None, password: str | None = None, **kwargs: Any) -> Any:
        if username is None:
            username = kwargs.get("username", "")
        if username and login_lockout_remaining(username=username, ip_address=request_ip(request)):
            raise PermissionDenied("Too many failed logins: this account is locked for a while from this address.")
        return super().authenticate(request, username=username, password=password, **kwargs)
