"""Reads of patient data are audit events too (DOMAIN.md §5, issue 5: who looked at the register).

``AuditedReadMixin`` goes first in the bases of a DRF list or detail view; after a successful
answer it records one event per establishment whose objects the caller was shown, naming them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import models
from rest_framework.request import Request
from rest_framework.response import Response

from audit.services import audit_record


def list_read_record(*, actor: Any, action: str, objects: Iterable[models.Model], query: dict[str, Any]) -> None:
    """One event per establishment whose objects were shown (none when nothing was shown)."""
    from register.models import Establishment

    shown: dict[int, list[models.Model]] = defaultdict(list)
    for obj in objects:
        shown[obj.establishment_id].append(obj)  # type: ignore[attr-defined]
    establishments = Establishment.objects.in_bulk(list(shown))
    for establishment_id, items in shown.items():
        audit_record(
            action=action,
            actor=actor,
            establishment=establishments[establishment_id],
            # No object_type on the event itself: it names no single object (pages link object
            # events to the object); the type and the ids shown are in the data.
            data={"object_type": items[0]._meta.label, "ids": [item.pk for item in items], "query": query},
        )


class AuditedReadMixin:
    """Audit a list (``read_audit_action``) or a detail (``read_detail_audit_action``) read."""

    read_audit_action: str = ""
    read_detail_audit_action: str = ""

    def paginate_queryset(self, queryset: Any) -> Any:
        page = super().paginate_queryset(queryset)  # type: ignore[misc]
        self._audited_objects = list(page) if page is not None else None
        return page

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().list(request, *args, **kwargs)  # type: ignore[misc]
        objects = getattr(self, "_audited_objects", None)
        if objects is None:  # not paginated: the whole filtered queryset was shown
            objects = list(self.filter_queryset(self.get_queryset()))  # type: ignore[attr-defined]
        query = {key: value for key, value in request.query_params.items()}
        list_read_record(actor=request.user, action=self.read_audit_action, objects=objects, query=query)
        return response

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().retrieve(request, *args, **kwargs)  # type: ignore[misc]
        obj = self._audited_object
        audit_record(action=self.read_detail_audit_action, actor=request.user, establishment=obj.establishment, obj=obj)
        return response

    def get_object(self) -> Any:
        obj = super().get_object()  # type: ignore[misc]
        self._audited_object = obj
        return obj
