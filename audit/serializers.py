from __future__ import annotations

from rest_framework import serializers

from audit.models import AuditEvent


class AuditEventSerializer(serializers.ModelSerializer):
    """Who (actor, role), what (action, object, data), when, and from where (IP, user agent, request)."""

    actor = serializers.CharField(source="actor_username")
    actor_id = serializers.IntegerField(allow_null=True)
    establishment = serializers.CharField(source="establishment.code", allow_null=True, default=None)

    class Meta:
        model = AuditEvent
        fields = [
            "id", "occurred_at", "actor", "actor_id", "role", "establishment", "action", "object_type",
            "object_id", "data", "ip_address", "user_agent", "request_id",
        ]
