"""Secure prescriptions (*ordonnances sécurisées*) and dispensations against them.

What the database guarantees, whatever the code above it does:
- a prescription is never deleted (R.5132-35: a copy is kept 3 years); a cancellation is a
  status, and a cancelled prescription is never changed again (trigger);
- prescription lines and dispensations are append-only (trigger), like the register lines
  they justify; a dispensation points at exactly one exit line and a line at one dispensation;
- RPPS is 11 digits, durations and quantities are positive, a line is either a bolus or an
  infusion with the values that kind needs (CHECK constraints).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from register.models import Establishment, Lot, Movement, Product


class Prescriber(models.Model):
    """The prescriber's identity as the secure form must show it (R.5132-3)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="prescriber")
    title = models.CharField(max_length=120)  # role / qualification, e.g. "Médecin anesthésiste-réanimateur"
    rpps = models.CharField(max_length=11, unique=True)
    address = models.TextField()
    history = HistoricalRecords()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(rpps__regex=r"^[0-9]{11}$"), name="prescriber_rpps_11_digits")]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"Dr {self.user.first_name} {self.user.last_name}".strip()


class Patient(models.Model):
    class Sex(models.TextChoices):
        FEMALE = "F", "Féminin"
        MALE = "M", "Masculin"

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="patients")
    last_name = models.CharField(max_length=100)
    first_name = models.CharField(max_length=100)
    sex = models.CharField(max_length=1, choices=Sex.choices)
    birth_date = models.DateField()
    address = models.TextField()
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    hepatic_impairment = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["last_name", "first_name", "id"]
        indexes = [models.Index(fields=["establishment", "last_name"])]
        constraints = [
            models.CheckConstraint(condition=Q(sex__in=["F", "M"]), name="patient_sex_valid"),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weight_kg__gt=0), name="patient_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.last_name.upper()} {self.first_name}"


class SecurePrescription(models.Model):
    class Status(models.TextChoices):
        ISSUED = "issued", "Émise"
        CANCELLED = "cancelled", "Annulée"

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="prescriptions")
    prescriber = models.ForeignKey(Prescriber, on_delete=models.PROTECT, related_name="prescriptions")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="prescriptions")
    secure_form_lot = models.CharField(max_length=64)  # pre-printed lot identifier (arrêté 31 mars 1999)
    declared_lines = models.PositiveSmallIntegerField()  # the number written in the square (R.5132-5)
    issued_on = models.DateField()
    duration_days = models.PositiveSmallIntegerField()
    # Last day covered (issued_on + duration - 1), stored so overlap and exposure windows use an index.
    ends_on = models.DateField()
    fraction_days = models.PositiveSmallIntegerField(null=True, blank=True)
    overlap_authorized = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ISSUED)
    dosage_words = models.TextField()  # R.5132-29: doses in full letters, generated and stored
    created_at = models.DateTimeField(auto_now_add=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["-issued_on", "-id"]
        indexes = [
            # Exposure and overlap look-ups: one patient's prescriptions overlapping a date window.
            models.Index(fields=["patient", "ends_on", "issued_on"], name="prescription_patient_window"),
            models.Index(fields=["establishment", "-issued_on"], name="prescription_estab_issued"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(declared_lines__gt=0), name="prescription_declared_lines_positive"),
            models.CheckConstraint(condition=Q(duration_days__gt=0), name="prescription_duration_positive"),
            models.CheckConstraint(condition=Q(ends_on__gte=models.F("issued_on")), name="prescription_ends_after_start"),
            models.CheckConstraint(
                condition=Q(fraction_days__isnull=True)
                | (Q(fraction_days__gt=0) & Q(fraction_days__lte=models.F("duration_days"))),
                name="prescription_fraction_within_duration",
            ),
            models.CheckConstraint(condition=Q(status__in=["issued", "cancelled"]), name="prescription_status_valid"),
        ]

    def __str__(self) -> str:
        return f"Ordonnance {self.pk} ({self.secure_form_lot}) du {self.issued_on:%d/%m/%Y}"

    @staticmethod
    def last_day(issued_on: dt.date, duration_days: int) -> dt.date:
        return issued_on + dt.timedelta(days=duration_days - 1)


class PrescriptionLine(models.Model):
    class Kind(models.TextChoices):
        BOLUS = "bolus", "Bolus"
        INFUSION = "infusion", "Perfusion"

    prescription = models.ForeignKey(SecurePrescription, on_delete=models.PROTECT, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    dose_mg = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    doses_per_day = models.PositiveSmallIntegerField(null=True, blank=True)
    rate_mg_per_h = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    hours_per_day = models.DecimalField(max_digits=4, decimal_places=2, null=True, blank=True)
    words = models.TextField()  # the dose in full letters (R.5132-29)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(kind="bolus", dose_mg__gt=0, doses_per_day__gt=0, rate_mg_per_h__isnull=True, hours_per_day__isnull=True)
                    | Q(kind="infusion", rate_mg_per_h__gt=0, hours_per_day__gt=0, hours_per_day__lte=24,
                        dose_mg__isnull=True, doses_per_day__isnull=True)
                ),
                name="prescription_line_kind_values",
            ),
        ]

    @property
    def daily_mg(self) -> Decimal:
        """Planned mg per day of this line (DOMAIN.md §4), in mg of the product's substance."""
        if self.kind == self.Kind.BOLUS:
            return Decimal(self.dose_mg or 0) * (self.doses_per_day or 0)
        return Decimal(self.rate_mg_per_h or 0) * Decimal(self.hours_per_day or 0)


class Dispensation(models.Model):
    """A dispensation against a prescription: the exit line it created, and what was checked."""

    prescription = models.ForeignKey(SecurePrescription, on_delete=models.PROTECT, related_name="dispensations")
    # Denormalised from the prescription so "mg dispensed to this patient in the last 24 h" is indexed.
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="dispensations")
    movement = models.OneToOneField(Movement, on_delete=models.PROTECT, related_name="dispensation")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()  # units (ampoules, vials)
    mg = models.DecimalField(max_digits=10, decimal_places=2)
    racemic_mg = models.DecimalField(max_digits=10, decimal_places=2)
    dispensed_at = models.DateTimeField()
    dispensed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # R.5132-35: the bearer's identity when it is not the patient.
    bearer_name = models.CharField(max_length=200, blank=True)
    bearer_id = models.CharField(max_length=100, blank=True)
    alerts = models.JSONField(default=list, blank=True)
    override_justification = models.TextField(blank=True)
    overridden_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-dispensed_at", "-id"]
        indexes = [models.Index(fields=["patient", "dispensed_at"], name="dispensation_patient_time")]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="dispensation_quantity_positive"),
            models.CheckConstraint(condition=Q(mg__gt=0) & Q(racemic_mg__gt=0), name="dispensation_mg_positive"),
            models.CheckConstraint(
                condition=Q(overridden_by__isnull=True) | ~Q(override_justification=""),
                name="dispensation_override_justified",
            ),
            models.CheckConstraint(
                condition=(Q(bearer_name="") & Q(bearer_id="")) | (~Q(bearer_name="") & ~Q(bearer_id="")),
                name="dispensation_bearer_complete",
            ),
        ]

    def __str__(self) -> str:
        return f"Dispensation {self.pk} — ordonnance {self.prescription_id}"
