"""The audit trail over HTTP (API.md: GET /api/v1/audit/events/), for pharmacists and inspectors."""

from __future__ import annotations

from typing import Any

from rest_framework import generics

from audit.filters import AuditEventFilter
from audit.selectors import audit_events_for
from audit.serializers import AuditEventSerializer
from config.permissions import Role


class AuditEventListView(generics.ListAPIView):
    """Who did what, when and from where, newest first, in the caller's establishments."""

    allowed_roles = {"GET": frozenset({Role.PHARMACIST, Role.INSPECTOR})}
    serializer_class = AuditEventSerializer
    filterset_class = AuditEventFilter

    def get_queryset(self) -> Any:
        return audit_events_for(self.request.user)
