"""Serializers check shape only; the rules live in services."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from config.fields import SafeDateTimeField
from register.models import Lot, Movement, Product, StockBalance


class ProductSerializer(serializers.ModelSerializer):
    substance = serializers.CharField(source="substance.name")
    substance_code = serializers.CharField(source="substance.code")
    racemic_factor = serializers.DecimalField(source="substance.racemic_factor", max_digits=4, decimal_places=2)
    narcotic = serializers.SerializerMethodField()

    class Meta:
        model = Product
        fields = [
            "id", "name", "substance", "substance_code", "racemic_factor", "form",
            "mg_per_unit", "ml_per_unit", "unit_label", "max_prescription_days", "narcotic",
        ]

    def get_narcotic(self, product: Product) -> bool:
        from django.utils import timezone

        return product.substance.is_narcotic_on(timezone.localdate())


class LotSerializer(serializers.ModelSerializer):
    establishment = serializers.CharField(source="establishment.code", read_only=True)
    product_name = serializers.CharField(source="product.name", read_only=True)
    quarantined = serializers.SerializerMethodField()

    class Meta:
        model = Lot
        fields = ["id", "establishment", "product", "product_name", "batch_number", "expires_on", "quarantined"]

    def get_quarantined(self, lot: Lot) -> bool:
        return lot.quarantined_at is not None


class LotCreateSerializer(serializers.Serializer):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    batch_number = serializers.CharField(max_length=64)
    expires_on = serializers.DateField()
    establishment = serializers.CharField(max_length=32, required=False)


class StockSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="lot.product_id")
    product_name = serializers.CharField(source="lot.product.name")
    batch_number = serializers.CharField(source="lot.batch_number")
    expires_on = serializers.DateField(source="lot.expires_on")
    location = serializers.CharField(source="location.code")

    class Meta:
        model = StockBalance
        fields = ["lot", "product", "product_name", "batch_number", "expires_on", "location", "on_hand"]


class MovementSerializer(serializers.ModelSerializer):
    location = serializers.CharField(source="location.code")
    establishment = serializers.CharField(source="establishment.code")
    product = serializers.IntegerField(source="lot.product_id")
    batch_number = serializers.CharField(source="lot.batch_number")
    recorded_by = serializers.CharField(source="recorded_by_name")
    reverses = serializers.IntegerField(source="reverses_id", allow_null=True)
    late_entry = serializers.SerializerMethodField()

    class Meta:
        model = Movement
        fields = [
            "id", "establishment", "number", "direction", "reason", "lot", "product", "batch_number",
            "location", "quantity", "balance_after", "counterparty", "prescriber_name", "prescriber_address",
            "patient_name", "patient_address", "occurred_at", "recorded_at", "recorded_by", "note",
            "late_entry", "late_entry_reason", "reverses", "paired_with", "prev_hash", "hash",
        ]

    def get_late_entry(self, movement: Movement) -> bool:
        return bool(movement.late_entry_reason)

    def to_representation(self, movement: Movement) -> dict[str, Any]:
        """The fields above, read directly: DRF's generic walk over 26 fields was a fifth of the
        CPU of an append (bench/append.py). tests/register/test_api.py checks that both give
        the same answer, so the declared fields stay the contract (and the OpenAPI schema)."""
        lot = movement.lot
        datetime = _DATETIME.to_representation
        return {
            "id": movement.pk,
            "establishment": movement.establishment.code,
            "number": movement.number,
            "direction": movement.direction,
            "reason": movement.reason,
            "lot": movement.lot_id,
            "product": lot.product_id,
            "batch_number": lot.batch_number,
            "location": movement.location.code,
            "quantity": movement.quantity,
            "balance_after": movement.balance_after,
            "counterparty": movement.counterparty,
            "prescriber_name": movement.prescriber_name,
            "prescriber_address": movement.prescriber_address,
            "patient_name": movement.patient_name,
            "patient_address": movement.patient_address,
            "occurred_at": datetime(movement.occurred_at),
            "recorded_at": datetime(movement.recorded_at),
            "recorded_by": movement.recorded_by_name,
            "note": movement.note,
            "late_entry": bool(movement.late_entry_reason),
            "late_entry_reason": movement.late_entry_reason,
            "reverses": movement.reverses_id,
            "paired_with": movement.paired_with_id,
            "prev_hash": movement.prev_hash,
            "hash": movement.hash,
        }


# One unbound field for the two timestamps: the same output as the serializer's own fields.
_DATETIME = serializers.DateTimeField()


class MovementCreateSerializer(serializers.Serializer):
    direction = serializers.ChoiceField(choices=Movement.Direction.choices)
    reason = serializers.ChoiceField(choices=Movement.Reason.choices)
    lot = serializers.IntegerField(min_value=1, max_value=2**62)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)
    location = serializers.CharField(max_length=32, required=False)
    counterparty = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    occurred_at = SafeDateTimeField(required=False)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    late_entry_reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class ReverseSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class VerifySerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    lines = serializers.IntegerField()
    head_hash = serializers.CharField()
    first_broken = serializers.IntegerField(allow_null=True)
    problem = serializers.CharField()
