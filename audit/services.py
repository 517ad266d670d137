"""Writing audit events. Called inside the transaction of the change it describes."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils import timezone

from audit.context import current_request
from audit.models import AuditEvent
from config.permissions import primary_role

_SECRET_KEYS = ("password", "token", "secret", "authorization")


def _mask(data: Any) -> Any:
    if isinstance(data, dict):
        return {
            key: ("***" if any(s in str(key).lower() for s in _SECRET_KEYS) else _mask(value))
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_mask(item) for item in data]
    return data


def audit_event_values(
    *,
    action: str,
    actor: Any = None,
    establishment: Any = None,
    obj: models.Model | None = None,
    data: dict[str, Any] | None = None,
    actor_username: str = "",
    object_type: str = "",
) -> dict[str, Any]:
    """The columns of one audit event; the request's origin comes from the request context.

    ``audit_record`` saves them; the register's append writes them from its database function
    (register/migrations/0005_register_append.py), in the same round trip as the line.
    """
    context = current_request.get()
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return {
        "occurred_at": timezone.now(),
        "actor": actor if authenticated else None,
        "actor_username": actor.get_username() if authenticated else actor_username[:150],
        "role": primary_role(actor) if authenticated else "",
        "establishment": establishment,
        "action": action,
        "object_type": obj._meta.label if obj is not None else object_type,
        "object_id": str(obj.pk) if obj is not None else "",
        "data": _mask(data or {}),
        "ip_address": context.ip_address,
        "user_agent": context.user_agent,
        "request_id": context.request_id,
    }


def audit_record(
    *,
    action: str,
    actor: Any = None,
    establishment: Any = None,
    obj: models.Model | None = None,
    data: dict[str, Any] | None = None,
    actor_username: str = "",
    object_type: str = "",
) -> AuditEvent:
    """Append one audit event; the request's origin comes from the request context."""
    return AuditEvent.objects.create(
        **audit_event_values(
            action=action, actor=actor, establishment=establishment, obj=obj, data=data,
            actor_username=actor_username, object_type=object_type,
        )
    )
