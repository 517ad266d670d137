"""The audit trail in the Django admin: read-only, for superusers (e.g. failed logins of unknown names)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from audit.models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("occurred_at", "action", "actor_username", "role", "establishment", "object_type", "object_id", "ip_address")
    list_filter = ("action", "establishment")
    search_fields = ("actor_username", "object_id", "request_id", "ip_address")
    date_hierarchy = "occurred_at"
    list_select_related = ("establishment",)

    # Append-only: nobody adds, edits or deletes an event here (the database would refuse anyway).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
