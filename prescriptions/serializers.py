"""Serializers check shape only; the rules live in services."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from prescriptions.models import Dispensation, Patient, PrescriptionLine, SecurePrescription


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "last_name", "first_name", "sex", "birth_date", "address", "weight_kg", "hepatic_impairment"]


class PatientCreateSerializer(serializers.Serializer):
    last_name = serializers.CharField(max_length=100)
    first_name = serializers.CharField(max_length=100)
    sex = serializers.ChoiceField(choices=Patient.Sex.choices)
    birth_date = serializers.DateField()
    address = serializers.CharField(max_length=1000)
    weight_kg = serializers.DecimalField(max_digits=5, decimal_places=1, min_value=0, required=False, allow_null=True)
    hepatic_impairment = serializers.BooleanField(default=False)
    establishment = serializers.CharField(max_length=32, required=False)


class LineInputSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, max_value=2**62)
    kind = serializers.ChoiceField(choices=PrescriptionLine.Kind.choices)
    dose_mg = serializers.DecimalField(max_digits=8, decimal_places=2, min_value=0, required=False, allow_null=True)
    doses_per_day = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=48)
    rate_mg_per_h = serializers.DecimalField(
        max_digits=8, decimal_places=2, min_value=0, required=False, allow_null=True
    )
    hours_per_day = serializers.DecimalField(max_digits=4, decimal_places=2, min_value=0, required=False, allow_null=True)


class PrescriptionCreateSerializer(serializers.Serializer):
    patient = serializers.IntegerField(min_value=1, max_value=2**62)
    secure_form_lot = serializers.CharField(max_length=64)
    declared_lines = serializers.IntegerField(min_value=1, max_value=50)
    issued_on = serializers.DateField()
    duration_days = serializers.IntegerField(min_value=1, max_value=366)
    fraction_days = serializers.IntegerField(min_value=1, max_value=366, required=False, allow_null=True)
    overlap_authorized = serializers.BooleanField(default=False)
    lines = serializers.ListField(child=LineInputSerializer(), allow_empty=False, max_length=50)


class LineSerializer(serializers.ModelSerializer):
    class Meta:
        model = PrescriptionLine
        fields = ["id", "product", "kind", "dose_mg", "doses_per_day", "rate_mg_per_h", "hours_per_day", "words"]


class PrescriptionSerializer(serializers.ModelSerializer):
    lines = LineSerializer(many=True, read_only=True)
    prescriber = serializers.SerializerMethodField()

    class Meta:
        model = SecurePrescription
        fields = [
            "id", "patient", "prescriber", "secure_form_lot", "declared_lines", "issued_on", "duration_days",
            "ends_on", "fraction_days", "overlap_authorized", "status", "dosage_words", "lines",
            "created_at", "cancelled_at", "cancel_reason",
        ]

    def get_prescriber(self, prescription: SecurePrescription) -> dict[str, Any]:
        prescriber = prescription.prescriber
        return {"id": prescriber.pk, "name": prescriber.full_name, "title": prescriber.title, "rpps": prescriber.rpps}


class IssuedPrescriptionSerializer(PrescriptionSerializer):
    """The 201 answer: the prescription and the hepatotoxic alerts found when it was issued."""

    alerts = serializers.SerializerMethodField()

    class Meta(PrescriptionSerializer.Meta):
        fields = [*PrescriptionSerializer.Meta.fields, "alerts"]

    def get_alerts(self, prescription: SecurePrescription) -> list[dict[str, str]]:
        return [alert.as_dict() for alert in self.context.get("alerts", [])]


class CancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class BearerSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    id = serializers.CharField(max_length=100)


class DispensationCreateSerializer(serializers.Serializer):
    lot = serializers.IntegerField(min_value=1, max_value=2**62)
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    override_justification = serializers.CharField(max_length=4000, required=False, allow_blank=True, default="")
    bearer = BearerSerializer(required=False, allow_null=True)


class DispensationSerializer(serializers.ModelSerializer):
    movement_number = serializers.IntegerField(source="movement.number")
    overridden_by = serializers.CharField(source="overridden_by.username", default=None)

    class Meta:
        model = Dispensation
        fields = [
            "id", "prescription", "patient", "movement", "movement_number", "lot", "quantity", "mg", "racemic_mg",
            "dispensed_at", "bearer_name", "bearer_id", "alerts", "override_justification", "overridden_by",
        ]
