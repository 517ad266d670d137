"""One domain error type, mapped once to the HTTP error format of API.md.

Every 4xx body is ``{"code": ..., "detail": ..., "fields": {...}?}`` (plus ``alerts`` for a
hepatotoxic refusal). Services raise ``DomainError``; DRF's own exceptions and the database's
refusals are translated here so that no input ever surfaces as a 500.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, IntegrityError, transaction
from django.http import Http404
from psycopg import errors as pg_errors
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback


class DomainError(Exception):
    """A business-rule refusal with a stable code; 409 unless said otherwise."""

    status_code: int = status.HTTP_409_CONFLICT

    def __init__(
        self,
        code: str,
        detail: str,
        *,
        status_code: int | None = None,
        fields: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        if status_code is not None:
            self.status_code = status_code
        self.fields = fields
        self.extra = extra or {}

    def as_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "detail": self.detail}
        if self.fields:
            body["fields"] = self.fields
        body.update(self.extra)
        return body


class InvalidInput(DomainError):
    """Bad input found by a service (400 ``validation_error`` unless a code is given)."""

    status_code: int = status.HTTP_400_BAD_REQUEST

    def __init__(self, detail: str, *, fields: dict[str, Any] | None = None, code: str = "validation_error") -> None:
        super().__init__(code, detail, fields=fields)


_DRF_CODES: dict[type[exceptions.APIException], str] = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ParseError: "parse_error",
    exceptions.ValidationError: "validation_error",
}


def _flatten(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {str(key): _flatten(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten(item) for item in detail]
    return str(detail)


def _first_message(fields: Any) -> str:
    if isinstance(fields, dict):
        for key, value in fields.items():
            message = _first_message(value)
            return message if key == "non_field_errors" else f"{key}: {message}"
    if isinstance(fields, list) and fields:
        return _first_message(fields[0])
    return str(fields)


def error_body(code: str, detail: str, fields: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "detail": detail}
    if fields:
        body["fields"] = fields
    return body


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        set_rollback()
        return Response(exc.as_body(), status=exc.status_code)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)

    if isinstance(exc, exceptions.APIException):
        set_rollback()
        code = next((c for klass, c in _DRF_CODES.items() if isinstance(exc, klass)), "error")
        if isinstance(exc, exceptions.ValidationError):
            fields = _flatten(exc.detail)
            if not isinstance(fields, dict):
                fields = {"non_field_errors": fields}
            return Response(error_body(code, _first_message(fields), fields), status=exc.status_code)
        wait = getattr(exc, "wait", None)
        if wait:
            headers["Retry-After"] = str(int(wait))
        auth_header = getattr(exc, "auth_header", None)
        if auth_header:
            headers["WWW-Authenticate"] = auth_header
        return Response(error_body(code, str(exc.detail)), status=exc.status_code, headers=headers)

    if isinstance(exc, DatabaseError):
        return database_error_response(exc)
    return None


def database_error_response(exc: DatabaseError) -> Response | None:
    """The database said no: a lock we waited on too long, or a constraint the service missed."""
    set_rollback()
    cause = exc.__cause__
    if isinstance(cause, (pg_errors.LockNotAvailable, pg_errors.SerializationFailure, pg_errors.DeadlockDetected)):
        # Another write holds the register lock: nothing was written, the client may retry.
        return Response(
            error_body("register_busy", "The register is busy with another write; nothing was written, retry."),
            status=status.HTTP_409_CONFLICT,
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, IntegrityError) or isinstance(cause, pg_errors.IntegrityError):
        return Response(
            error_body("integrity_error", "The database refused this write: it would break a register invariant."),
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(cause, (pg_errors.DataException,)):
        return Response(
            error_body("validation_error", "A value is out of the range the register can store."),
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(cause, pg_errors.RaiseException) and "append-only" in str(cause):
        return Response(
            error_body("append_only", "Register lines cannot be modified or deleted."),
            status=status.HTTP_409_CONFLICT,
        )
    return None


__all__ = ["DomainError", "InvalidInput", "api_exception_handler", "error_body", "transaction"]
