"""``Idempotency-Key`` on writes that change stock (API.md): the same key replays the first answer.

Usage, on a DRF view method (below ``@extend_schema`` if any)::

    @idempotent
    def post(self, request, ...): ...

A client that lost the answer to a dispensation (timeout, network cut) retries with the same key
and gets the first answer back instead of a second ledger line. The key is scoped to the user;
the same key with another body or path is refused with 409 ``idempotency_key_reused``. Only
successful (2xx) answers are kept: after a refusal nothing was written, and the retry runs again.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from audit.models import IdempotencyKey
from config.errors import DomainError, InvalidInput

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255

SCHEMA_PARAMETER = OpenApiParameter(
    HEADER, str, OpenApiParameter.HEADER, required=False,
    description="A unique key (e.g. a UUID) per intended write: a retry with the same key and body "
                "replays the first answer instead of writing twice.",
)


def request_fingerprint(request: Request) -> str:
    """What makes two requests "the same": method, full path and the parsed JSON body."""
    canonical = json.dumps(
        {"method": request.method, "path": request.get_full_path(), "body": request.data},
        sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def idempotency_claim(*, user: Any, key: str, fingerprint: str, method: str, path: str) -> IdempotencyKey | None:
    """Claim ``key`` for this request, or return the committed record of the first one.

    Call inside ``transaction.atomic()``. The INSERT ... ON CONFLICT is the lock: a concurrent
    request with the same key blocks on the unique index until the first commits (then gets its
    record to replay) or rolls back (then claims the key itself). Two requests can therefore
    never both run the write.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO audit_idempotencykey (user_id, key, fingerprint, method, path, status_code, response_body, created_at) "
            "VALUES (%s, %s, %s, %s, %s, 0, '', now()) ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [user.pk, key, fingerprint, method, path[:400]],
        )
        if cursor.fetchone() is not None:
            return None
    return IdempotencyKey.objects.get(user=user, key=key)


def idempotency_store(*, user: Any, key: str, response: Response) -> None:
    """Keep a 2xx answer for replay; drop the claim of any other answer (nothing to replay)."""
    claimed = IdempotencyKey.objects.filter(user=user, key=key)
    if 200 <= response.status_code < 300:
        body = JSONRenderer().render(response.data).decode("utf-8") if response.data is not None else ""
        claimed.update(status_code=response.status_code, response_body=body)
    else:
        claimed.delete()


def idempotency_keys_purge(*, older_than: dt.timedelta) -> int:
    """Delete the keys claimed more than ``older_than`` ago; return how many went.

    A key only has to outlive its client's retries (seconds to hours): after that a replay can no
    longer happen, and the write itself stays in the register and the audit trail. A claim still
    held by a running request is young, so it is never taken from under it.
    """
    cutoff = timezone.now() - older_than
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


def _replay(record: IdempotencyKey, fingerprint: str, key: str) -> Response:
    if record.fingerprint != fingerprint:
        raise DomainError(
            "idempotency_key_reused",
            f"The Idempotency-Key {key!r} was already used for another request (other body or path): "
            "use a new key for a new write.",
        )
    data = json.loads(record.response_body) if record.response_body else None
    return Response(data, status=record.status_code, headers={"Idempotent-Replayed": "true"})


def _read_key(request: Request) -> str | None:
    raw = request.headers.get(HEADER)
    if raw is None:
        return None
    key = raw.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"The {HEADER} header must be 1 to {MAX_KEY_LENGTH} printable characters.",
            fields={HEADER: ["Invalid key."]},
            code="invalid_idempotency_key",
        )
    return key


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Make a DRF view method honour ``Idempotency-Key`` (see the module docstring)."""

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = _read_key(request)
        if key is None or not getattr(request.user, "is_authenticated", False):
            return handler(view, request, *args, **kwargs)
        fingerprint = request_fingerprint(request)
        # One transaction for the key and the write: the key commits exactly when the write does.
        with transaction.atomic():
            record = idempotency_claim(
                user=request.user, key=key, fingerprint=fingerprint, method=request.method or "", path=request.path
            )
            if record is not None:
                return _replay(record, fingerprint, key)
            response = handler(view, request, *args, **kwargs)
            idempotency_store(user=request.user, key=key, response=response)
            return response

    return extend_schema(parameters=[SCHEMA_PARAMETER])(wrapper)
