"""Token authentication (API.md: POST /api/v1/auth/token/) and revocation.

Repeated failures are slowed twice: a per-IP rate limit on the endpoint (DRF throttle,
``LOGIN_THROTTLE_RATE``) and a lockout per username and IP counted from the audit trail
(``LOGIN_LOCKOUT``, see ``audit.lockout``). Failures are audited by ``audit.signals``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from audit.lockout import LOGIN_LOCKED, LOGIN_SUCCEEDED, login_attempts_serialise, login_lockout_remaining, request_ip
from audit.middleware import client_ip
from audit.services import audit_record
from config.errors import DomainError, error_body
from config.permissions import ALL_ROLES


class LoginRateThrottle(AnonRateThrottle):
    """Password guesses per client IP (``LOGIN_THROTTLE_RATE``, read at each request)."""

    scope = "login"

    def get_rate(self) -> str | None:
        return str(settings.LOGIN_THROTTLE_RATE) or None

    def get_ident(self, request: Any) -> str:
        # REMOTE_ADDR only, like the audit trail: DRF would otherwise trust X-Forwarded-For,
        # and an attacker would rotate it to escape the limit.
        return client_ip(request) or "unknown"


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, trim_whitespace=False, style={"input_type": "password"})


class TokenView(APIView):
    allowed_roles: dict[str, frozenset[str]] = {"POST": frozenset()}
    authentication_classes: list[type] = []
    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
    )
    def post(self, request: Request) -> Response:
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data["username"]
        ip_address = request_ip(request._request)
        user = None
        with transaction.atomic():
            # One attempt at a time per username+IP, so the failure count read here includes
            # every earlier attempt (see login_attempts_serialise).
            login_attempts_serialise(username=username, ip_address=ip_address)
            locked_for = login_lockout_remaining(username=username, ip_address=ip_address)
            if locked_for:
                audit_record(action=LOGIN_LOCKED, actor_username=username, data={"via": "token", "retry_after": locked_for})
            else:
                # A failure is audited by the user_login_failed receiver (audit.signals).
                user = authenticate(request._request, username=username, password=data.validated_data["password"])
                if user is not None and user.is_active:
                    token, _ = Token.objects.get_or_create(user=user)
                    audit_record(action=LOGIN_SUCCEEDED, actor=user, data={"via": "token"})
        # Outside the transaction: the failure's audit event must stay, whatever handles the error.
        if locked_for:
            return Response(
                error_body("login_locked", f"Too many failed logins for this account from this address; retry in {locked_for} s."),
                status=status.HTTP_429_TOO_MANY_REQUESTS,
                headers={"Retry-After": str(locked_for)},
            )
        if user is None or not user.is_active:
            raise DomainError("invalid_credentials", "Wrong username or password.", status_code=status.HTTP_400_BAD_REQUEST)
        return Response({"token": token.key})


class TokenRevokeView(APIView):
    """Delete the caller's API token: it stops working at once (a lost laptop, a leaving employee)."""

    allowed_roles = {"POST": ALL_ROLES}

    @extend_schema(request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        user: Any = request.user
        with transaction.atomic():
            deleted, _ = Token.objects.filter(user=user).delete()
            audit_record(action="auth.token.revoked", actor=request.user, data={"deleted": bool(deleted)})
        return Response(status=status.HTTP_204_NO_CONTENT)
