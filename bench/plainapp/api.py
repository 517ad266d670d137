"""A plain DRF ModelViewSet.create: validate, save, answer. No lock, no chain, no balance."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from rest_framework import mixins, serializers, viewsets

from bench.plainapp.models import PlainMovement
from config.permissions import PHARMACY
from register.models import Location


class PlainMovementSerializer(serializers.ModelSerializer):
    occurred_at = serializers.DateTimeField(required=False)

    class Meta:
        model = PlainMovement
        fields = [
            "id", "establishment", "location", "lot", "direction", "reason", "quantity", "counterparty",
            "prescriber_name", "prescriber_address", "patient_name", "patient_address", "occurred_at",
            "recorded_at", "recorded_by", "note", "late_entry_reason",
        ]
        read_only_fields = ["establishment", "location", "recorded_at", "recorded_by"]


class PlainMovementViewSet(mixins.CreateModelMixin, viewsets.GenericViewSet):
    # The project's permission class reads this: pharmacy roles, like the real endpoint.
    allowed_roles = {"POST": PHARMACY}
    serializer_class = PlainMovementSerializer
    queryset = PlainMovement.objects.all()

    def perform_create(self, serializer: Any) -> None:
        lot = serializer.validated_data["lot"]
        serializer.save(
            establishment_id=lot.establishment_id,
            location=Location.objects.get(establishment_id=lot.establishment_id, code="VAULT"),
            recorded_by=self.request.user,
            occurred_at=serializer.validated_data.get("occurred_at") or timezone.now(),
        )
