"""Register workflows beyond a single line (CSP R.5132-36, R.5132-80; arrêtés du 31 mars 1999 et
du 12 mars 2013): inventories, destructions, theft and loss reports, ward stock.

Every workflow ends in ledger lines written by ``register.services.movement_record``; the rows
here describe the workflow and point at those lines. Rows that are records once written (a
destruction PV, a theft report and its checklist steps, a ward return) are append-only in the
database; an inventory count is a small state machine frozen by a trigger once validated.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from register.models import Establishment, Location, Lot, Movement


class InventoryCount(models.Model):
    """A physical count of one location (the annual inventory of R.5132-36, or an ad-hoc count).

    open -> submitted (counting done; expected figures snapshotted and shown) -> validated by a
    pharmacist (adjustment lines posted, the count frozen). submitted -> open re-opens a count
    whose stock moved before validation. The trigger ``inventorycount_fsm`` enforces this.
    """

    class Status(models.TextChoices):
        OPEN = "open", "En cours de comptage"
        SUBMITTED = "submitted", "Soumis pour validation"
        VALIDATED = "validated", "Validé"

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="inventory_counts")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="inventory_counts")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    note = models.TextField(blank=True)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField()
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(null=True, blank=True)
    validated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    validated_at = models.DateTimeField(null=True, blank=True)
    # The register's last order number once the adjustments are posted: lines up to this number
    # are covered by the count and can no longer be reversed (register.inventory_rules).
    register_number = models.PositiveBigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "submitted", "validated"]), name="inventorycount_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="validated")
                | (Q(validated_by__isnull=False) & Q(validated_at__isnull=False) & Q(register_number__isnull=False)),
                name="inventorycount_validated_complete",
            ),
            # One count in progress per location at a time: two would each post adjustments.
            models.UniqueConstraint(
                fields=["location"], condition=~Q(status="validated"), name="inventorycount_one_open_per_location"
            ),
        ]

    def __str__(self) -> str:
        return f"Inventaire {self.location.code} du {self.opened_at:%Y-%m-%d} ({self.status})"


class InventoryCountLine(models.Model):
    """One lot of the count: what was counted, what the register said (snapshot), the variance."""

    count = models.ForeignKey(InventoryCount, on_delete=models.PROTECT, related_name="lines")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    counted = models.PositiveIntegerField(null=True, blank=True)
    counted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    counted_at = models.DateTimeField(null=True, blank=True)
    # Snapshot of the register balance at submission; hidden from the counter before (blind count).
    expected = models.IntegerField(null=True, blank=True)
    reason = models.TextField(blank=True)
    adjustment = models.OneToOneField(
        Movement, null=True, blank=True, on_delete=models.PROTECT, related_name="inventory_line"
    )

    class Meta:
        ordering = ["lot__product__name", "lot__expires_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["count", "lot"], name="inventoryline_unique_lot"),
            models.CheckConstraint(condition=Q(expected__isnull=True) | Q(expected__gte=0), name="inventoryline_expected_not_negative"),
        ]

    @property
    def variance(self) -> int | None:
        if self.counted is None or self.expected is None:
            return None
        return self.counted - self.expected


class DestructionRecord(models.Model):
    """The destruction record (*procès-verbal*, arrêté du 12 mars 2013 art. 7), kept 10 years.

    Append-only: the PV's PDF bytes and their SHA-256 are stored with it when it is written.
    """

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="destructions")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    reference = models.CharField(max_length=64, unique=True)
    destroyed_at = models.DateTimeField()
    inspector_notified_on = models.DateField()
    inspector_name = models.CharField(max_length=200)
    method = models.CharField(max_length=200)
    note = models.TextField(blank=True)
    performed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    performed_by_name = models.CharField(max_length=200)
    witness = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    witness_name = models.CharField(max_length=200)
    pdf = models.BinaryField()
    pdf_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["-destroyed_at", "-id"]
        constraints = [
            # The witness is a second pharmacist, never the one who destroys (art. 7).
            models.CheckConstraint(condition=~Q(witness=models.F("performed_by")), name="destruction_witness_distinct"),
        ]


class DestructionLine(models.Model):
    destruction = models.ForeignKey(DestructionRecord, on_delete=models.PROTECT, related_name="lines")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    movement = models.OneToOneField(Movement, on_delete=models.PROTECT, related_name="destruction_line")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="destructionline_quantity_positive"),
            models.UniqueConstraint(fields=["destruction", "lot"], name="destructionline_unique_lot"),
        ]


class TheftLossReport(models.Model):
    """A theft or loss (R.5132-80): the exit line, the circumstances, then the report checklist."""

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="theft_loss_reports")
    movement = models.OneToOneField(Movement, on_delete=models.PROTECT, related_name="theft_loss_report")
    kind = models.CharField(max_length=5, choices=[("theft", "Vol"), ("loss", "Perte")])
    circumstances = models.TextField()
    discovered_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=Q(kind__in=["theft", "loss"]), name="theftloss_kind_valid")]


class TheftLossReportStep(models.Model):
    """One step of the checklist, recorded once with the time it was done (append-only)."""

    class Step(models.TextChoices):
        POLICE = "police", "Dépôt de plainte / déclaration aux services de police"
        ARS = "ars", "Déclaration à l'ARS"
        ANSM = "ansm", "Déclaration à l'ANSM"

    report = models.ForeignKey(TheftLossReport, on_delete=models.PROTECT, related_name="steps")
    step = models.CharField(max_length=6, choices=Step.choices)
    done_at = models.DateTimeField()
    reference = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField()

    class Meta:
        ordering = ["done_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["report", "step"], name="theftlossstep_once"),
            models.CheckConstraint(condition=Q(step__in=["police", "ars", "ansm"]), name="theftlossstep_valid"),
        ]


class NurseWardAssignment(models.Model):
    """Which ward's stock a nurse may act on (arrêté du 31 mars 1999: the care unit's *dotation*)."""

    nurse = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ward_assignments")
    ward = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="nurse_assignments")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["nurse", "ward"], name="nurseward_unique")]


class WardReturn(models.Model):
    """Ampoules a ward sends back to the pharmacy (append-only).

    Unused ampoules go back into the vault stock: a transfer pair in the register. Used (empty)
    ampoules are traceability only (the administration already took them out of stock), so they
    have no register line, but cannot exceed what the ward administered from that lot.
    """

    class Kind(models.TextChoices):
        UNUSED = "unused", "Ampoules non utilisées"
        USED = "used", "Ampoules vides (utilisées)"

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="+")
    ward = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=6, choices=Kind.choices)
    quantity = models.PositiveIntegerField()
    returned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    returned_at = models.DateTimeField()
    note = models.TextField(blank=True)
    transfer_out = models.OneToOneField(Movement, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    transfer_in = models.OneToOneField(Movement, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-returned_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gt=0), name="wardreturn_quantity_positive"),
            models.CheckConstraint(
                condition=(Q(kind="unused") & Q(transfer_out__isnull=False) & Q(transfer_in__isnull=False))
                | (Q(kind="used") & Q(transfer_out__isnull=True) & Q(transfer_in__isnull=True)),
                name="wardreturn_lines_match_kind",
            ),
        ]
