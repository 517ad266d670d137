"""Serializers check shape only; the rules live in ``operations.services``."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from operations.models import (
    DestructionLine,
    DestructionRecord,
    InventoryCount,
    InventoryCountLine,
    TheftLossReport,
    TheftLossReportStep,
    WardReturn,
)
from register.serializers import MovementSerializer


def _lot_field() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=2**62)


def _quantity_field() -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=1_000_000)



class InventoryLineSerializer(serializers.ModelSerializer):
    """A count line. Blind count: ``expected`` and ``variance`` are null while the count is open."""

    product_name = serializers.CharField(source="lot.product.name", read_only=True)
    batch_number = serializers.CharField(source="lot.batch_number", read_only=True)
    expected = serializers.SerializerMethodField()
    variance = serializers.SerializerMethodField()
    counted_by = serializers.CharField(source="counted_by.username", default=None, read_only=True)

    class Meta:
        model = InventoryCountLine
        fields = [
            "id", "lot", "product_name", "batch_number", "counted", "counted_by", "counted_at",
            "expected", "variance", "reason", "adjustment",
        ]

    def _revealed(self, line: InventoryCountLine) -> bool:
        return line.count.status != InventoryCount.Status.OPEN

    def get_expected(self, line: InventoryCountLine) -> int | None:
        return line.expected if self._revealed(line) else None

    def get_variance(self, line: InventoryCountLine) -> int | None:
        return line.variance if self._revealed(line) else None


class InventorySerializer(serializers.ModelSerializer):
    location = serializers.CharField(source="location.code")
    establishment = serializers.CharField(source="establishment.code")
    opened_by = serializers.CharField(source="opened_by.username")
    submitted_by = serializers.CharField(source="submitted_by.username", default=None)
    validated_by = serializers.CharField(source="validated_by.username", default=None)
    lines = InventoryLineSerializer(many=True, read_only=True)

    class Meta:
        model = InventoryCount
        fields = [
            "id", "establishment", "location", "status", "note", "opened_by", "opened_at", "submitted_by",
            "submitted_at", "validated_by", "validated_at", "register_number", "lines",
        ]


class InventoryCreateSerializer(serializers.Serializer):
    location = serializers.CharField(max_length=32, default="VAULT")
    establishment = serializers.CharField(max_length=32, required=False)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class InventoryLineInputSerializer(serializers.Serializer):
    lot = _lot_field()
    counted = serializers.IntegerField(min_value=0, max_value=1_000_000, required=False, allow_null=True, default=None)
    reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True, default=None)


class QuarantineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class DestructionItemSerializer(serializers.Serializer):
    lot = _lot_field()
    quantity = _quantity_field()


class DestructionCreateSerializer(serializers.Serializer):
    lots = DestructionItemSerializer(many=True, allow_empty=False, max_length=200)  # type: ignore[call-arg]
    location = serializers.CharField(max_length=32, default="VAULT")
    establishment = serializers.CharField(max_length=32, required=False)
    inspector_notified_on = serializers.DateField()
    inspector_name = serializers.CharField(max_length=200)
    method = serializers.CharField(max_length=200, required=False, default="Dénaturation puis incinération")
    witness_username = serializers.CharField(max_length=150)
    witness_password = serializers.CharField(max_length=256, trim_whitespace=False, write_only=True)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class DestructionLineSerializer(serializers.ModelSerializer):
    batch_number = serializers.CharField(source="lot.batch_number")
    product_name = serializers.CharField(source="lot.product.name")
    movement_number = serializers.IntegerField(source="movement.number")

    class Meta:
        model = DestructionLine
        fields = ["lot", "batch_number", "product_name", "quantity", "movement", "movement_number"]


class DestructionSerializer(serializers.ModelSerializer):
    establishment = serializers.CharField(source="establishment.code")
    location = serializers.CharField(source="location.code")
    lines = DestructionLineSerializer(many=True)
    pv_url = serializers.SerializerMethodField()

    class Meta:
        model = DestructionRecord
        fields = [
            "id", "establishment", "location", "reference", "destroyed_at", "inspector_notified_on", "inspector_name",
            "method", "note", "performed_by_name", "witness_name", "pdf_sha256", "lines", "pv_url",
        ]

    def get_pv_url(self, record: DestructionRecord) -> str:
        return f"/api/v1/destructions/{record.pk}/pv.pdf"


class TheftLossStepSerializer(serializers.ModelSerializer):
    recorded_by = serializers.CharField(source="recorded_by.username")

    class Meta:
        model = TheftLossReportStep
        fields = ["id", "step", "done_at", "reference", "recorded_by", "recorded_at"]


class TheftLossReportSerializer(serializers.ModelSerializer):
    movement = MovementSerializer()
    steps = TheftLossStepSerializer(many=True)
    missing_steps = serializers.SerializerMethodField()
    complete = serializers.SerializerMethodField()

    class Meta:
        model = TheftLossReport
        fields = ["id", "kind", "circumstances", "discovered_at", "created_at", "movement", "steps",
                  "missing_steps", "complete"]

    def get_missing_steps(self, report: TheftLossReport) -> list[str]:
        done = {step.step for step in report.steps.all()}
        return [step for step in TheftLossReportStep.Step.values if step not in done]

    def get_complete(self, report: TheftLossReport) -> bool:
        return not self.get_missing_steps(report)


class TheftLossCreateSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["theft", "loss"])
    lot = _lot_field()
    quantity = _quantity_field()
    location = serializers.CharField(max_length=32, default="VAULT")
    circumstances = serializers.CharField(max_length=10_000)
    discovered_at = serializers.DateTimeField(required=False)
    late_entry_reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class TheftLossStepCreateSerializer(serializers.Serializer):
    step = serializers.ChoiceField(choices=TheftLossReportStep.Step.choices)
    done_at = serializers.DateTimeField(required=False)
    reference = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class TransferCreateSerializer(serializers.Serializer):
    lot = _lot_field()
    quantity = _quantity_field()
    to = serializers.CharField(max_length=32)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")

    def to_internal_value(self, data: Any) -> Any:
        # ``from`` is a Python keyword: read it by hand, default the pharmacy vault.
        values = super().to_internal_value(data)
        source = data.get("from", "VAULT") if hasattr(data, "get") else "VAULT"
        if not isinstance(source, str) or not source or len(source) > 32:
            raise serializers.ValidationError({"from": ["A location code."]})
        values["from"] = source
        return values


class TransferSerializer(serializers.Serializer):
    transfer_out = MovementSerializer()
    transfer_in = MovementSerializer()


class AdministrationCreateSerializer(serializers.Serializer):
    lot = _lot_field()
    ward = serializers.CharField(max_length=32)
    quantity = _quantity_field()
    patient_name = serializers.CharField(max_length=200)
    patient_address = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    prescriber_name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    prescriber_address = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    occurred_at = serializers.DateTimeField(required=False)
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    late_entry_reason = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class WardReturnCreateSerializer(serializers.Serializer):
    lot = _lot_field()
    ward = serializers.CharField(max_length=32)
    kind = serializers.ChoiceField(choices=WardReturn.Kind.choices)
    quantity = _quantity_field()
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")


class WardReturnSerializer(serializers.ModelSerializer):
    ward = serializers.CharField(source="ward.code")
    returned_by = serializers.CharField(source="returned_by.username")

    class Meta:
        model = WardReturn
        fields = ["id", "ward", "lot", "kind", "quantity", "returned_by", "returned_at", "note",
                  "transfer_out", "transfer_in"]


class WardAssignmentCreateSerializer(serializers.Serializer):
    nurse = serializers.CharField(max_length=150)
    ward = serializers.CharField(max_length=32)
