"""The narcotic register (*registre des stupéfiants*, CSP R.5132-36).

``Movement`` is the ledger: one line per entry or exit, append-only (a database trigger refuses
UPDATE, DELETE and TRUNCATE), numbered without gaps per establishment (*numéro d'ordre*) and
hash-chained. ``StockBalance`` is a cache of the ledger that verification rebuilds and checks.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords


class Establishment(models.Model):
    """A pharmacy (PUI or community): every page of its register shows its name and address."""

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    address = models.TextField()
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="establishments", blank=True)
    history = HistoricalRecords(excluded_fields=["members"])

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class RegisterHead(models.Model):
    """The head of an establishment's chain: last order number and last hash.

    Its row is the register lock: every append takes ``SELECT ... FOR UPDATE`` on it first, so
    two writers of one establishment cannot both read the same last number or previous hash.
    """

    establishment = models.OneToOneField(Establishment, on_delete=models.PROTECT, primary_key=True, related_name="head")
    last_number = models.PositiveBigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="0" * 64)


class Substance(models.Model):
    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    # Racemic-equivalent mg = mg x factor (esketamine ~2x as potent as racemic ketamine).
    racemic_factor = models.DecimalField(max_digits=4, decimal_places=2)
    history = HistoricalRecords()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(racemic_factor__gt=0), name="substance_factor_positive")]

    def __str__(self) -> str:
        return self.name

    def schedule_on(self, day: dt.date) -> str | None:
        for period in self.classifications.all():
            if period.valid_from <= day and (period.valid_to is None or day <= period.valid_to):
                return period.schedule
        return None

    def is_narcotic_on(self, day: dt.date) -> bool:
        return self.schedule_on(day) == SubstanceClassification.Schedule.NARCOTIC


class SubstanceClassification(models.Model):
    """A period during which a substance was on a schedule (ketamine: narcotic since 2017-04-24)."""

    class Schedule(models.TextChoices):
        LIST_I = "list_I", "Liste I"
        NARCOTIC = "narcotic", "Stupéfiant"

    substance = models.ForeignKey(Substance, on_delete=models.PROTECT, related_name="classifications")
    schedule = models.CharField(max_length=16, choices=Schedule.choices)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="classification_period_ordered",
            )
        ]


class Product(models.Model):
    """A presentation (BDPM): 50 mg/5 mL, 250 mg/5 mL, 500 mg/10 mL..."""

    substance = models.ForeignKey(Substance, on_delete=models.PROTECT, related_name="products")
    name = models.CharField(max_length=200, unique=True)
    form = models.CharField(max_length=80, default="solution injectable")
    mg_per_unit = models.DecimalField(max_digits=8, decimal_places=2)
    ml_per_unit = models.DecimalField(max_digits=8, decimal_places=2)
    unit_label = models.CharField(max_length=32, default="ampoule")
    # R.5132-30: at most 28 days, configurable per product.
    max_prescription_days = models.PositiveSmallIntegerField(default=28)
    history = HistoricalRecords()

    class Meta:
        ordering = ["substance__code", "mg_per_unit", "ml_per_unit"]
        constraints = [
            models.CheckConstraint(condition=Q(mg_per_unit__gt=0) & Q(ml_per_unit__gt=0), name="product_strength_positive"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def concentration_mg_per_ml(self) -> Decimal:
        return self.mg_per_unit / self.ml_per_unit


class Lot(models.Model):
    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="lots")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="lots")
    batch_number = models.CharField(max_length=64)
    expires_on = models.DateField()
    # Out-of-use stock awaiting destruction: no exit but destruction (arrêté 12 mars 2013 art. 7).
    quarantined_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["expires_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["establishment", "product", "batch_number"], name="lot_unique_batch"),
        ]

    def __str__(self) -> str:
        return f"{self.product.name} — lot {self.batch_number}"


class Location(models.Model):
    """Where stock sits: the pharmacy vault, or a care unit's ward stock (*dotation*)."""

    class Kind(models.TextChoices):
        VAULT = "vault", "Coffre de la pharmacie"
        WARD = "ward", "Unité de soins"

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="locations")
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.VAULT)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "code"]
        constraints = [models.UniqueConstraint(fields=["establishment", "code"], name="location_unique_code")]

    def __str__(self) -> str:
        return self.name


# Future dates are refused; a small allowance absorbs clock skew between client and server.
FUTURE_TOLERANCE = dt.timedelta(minutes=2)
# A line whose operation happened longer ago than this is a late entry and must say why.
LATE_ENTRY_AFTER = dt.timedelta(hours=24)


class Movement(models.Model):
    """One line of the register. Never updated, never deleted (trigger ``movement_append_only``)."""

    class Direction(models.TextChoices):
        ENTRY = "entry", "Entrée"
        EXIT = "exit", "Sortie"

    class Reason(models.TextChoices):
        RECEIPT = "receipt", "Réception fournisseur"
        RETURN = "return", "Retour"
        TRANSFER_IN = "transfer_in", "Transfert (entrée)"
        TRANSFER_OUT = "transfer_out", "Transfert (sortie)"
        DISPENSATION = "dispensation", "Dispensation"
        ADMINISTRATION = "administration", "Administration"
        SUPPLIER_RETURN = "supplier_return", "Retour fournisseur"
        ADJUSTMENT = "adjustment", "Régularisation d'inventaire"
        DESTRUCTION = "destruction", "Destruction"
        THEFT = "theft", "Vol"
        LOSS = "loss", "Perte"
        REVERSAL = "reversal", "Annulation d'écriture"

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="movements")
    number = models.PositiveBigIntegerField()  # numéro d'ordre, gap-free per establishment
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="movements")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="movements")
    direction = models.CharField(max_length=5, choices=Direction.choices)
    reason = models.CharField(max_length=20, choices=Reason.choices)
    quantity = models.PositiveIntegerField()  # in units (ampoules, vials), R.5132-36
    balance_after = models.IntegerField()  # balance of (location, lot) after this line
    # Frozen at the time of the operation (R.5132-36): later edits of people change nothing here.
    counterparty = models.CharField(max_length=500, blank=True)
    prescriber_name = models.CharField(max_length=200, blank=True)
    prescriber_address = models.CharField(max_length=500, blank=True)
    patient_name = models.CharField(max_length=200, blank=True)
    patient_address = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_by_name = models.CharField(max_length=150)
    note = models.TextField(blank=True)
    # A late entry (occurred well before it was recorded) must say why; it is flagged in exports.
    late_entry_reason = models.TextField(blank=True)
    # A correction points at the line it reverses; unique, so a line is reversed at most once.
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )
    # The other half of a transfer between locations (both lines are written together).
    paired_with = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["establishment_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["establishment", "number"], name="movement_unique_number"),
            models.CheckConstraint(condition=Q(number__gt=0), name="movement_number_positive"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="movement_quantity_positive"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="movement_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(direction__in=["entry", "exit"]), name="movement_direction_valid"
            ),
            models.CheckConstraint(
                condition=Q(reverses__isnull=True) | Q(reason="reversal"), name="movement_reversal_reason"
            ),
            # The time rules of register.services.movement_record, guaranteed for every line
            # however it is written: nothing dated in the future of its recording, and a late
            # entry always says why.
            models.CheckConstraint(
                condition=Q(occurred_at__lte=F("recorded_at") + FUTURE_TOLERANCE), name="movement_not_in_future"
            ),
            models.CheckConstraint(
                condition=Q(occurred_at__gte=F("recorded_at") - LATE_ENTRY_AFTER) | ~Q(late_entry_reason=""),
                name="movement_late_entry_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["establishment", "occurred_at"]),
            models.Index(fields=["lot", "location", "number"]),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.direction} {self.quantity} {self.lot}"

    @property
    def signed_quantity(self) -> int:
        return self.quantity if self.direction == self.Direction.ENTRY else -self.quantity


class StockBalance(models.Model):
    """Units on hand per (location, lot): a cache the ledger rebuilds; never negative."""

    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="balances")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="balances")
    on_hand = models.IntegerField(default=0)
    last_number = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["location", "lot"], name="balance_unique_location_lot"),
            models.CheckConstraint(condition=Q(on_hand__gte=0), name="balance_not_negative"),
        ]


class MonthlyClosing(models.Model):
    """A product's monthly balance (R.5132-36), frozen: opening + entries - exits = closing.

    Append-only (trigger ``register_monthlyclosing_append_only``) and unique per establishment,
    product and month. ``head_number``/``head_hash`` are the register head when it was closed, so
    a later check can tell which lines the figures were computed from.
    """

    establishment = models.ForeignKey(Establishment, on_delete=models.PROTECT, related_name="closings")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="closings")
    month = models.DateField()  # the first day of the month closed
    opening = models.IntegerField()
    entries = models.PositiveIntegerField()
    exits = models.PositiveIntegerField()
    closing = models.IntegerField()
    head_number = models.PositiveBigIntegerField()
    head_hash = models.CharField(max_length=64)
    closed_at = models.DateTimeField()
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_by_name = models.CharField(max_length=150)

    class Meta:
        ordering = ["establishment_id", "month", "product__name"]
        constraints = [
            models.UniqueConstraint(fields=["establishment", "product", "month"], name="closing_unique_month"),
            models.CheckConstraint(
                condition=Q(closing=models.F("opening") + models.F("entries") - models.F("exits")),
                name="closing_balances",
            ),
            models.CheckConstraint(condition=Q(opening__gte=0) & Q(closing__gte=0), name="closing_not_negative"),
            models.CheckConstraint(condition=Q(month__day=1), name="closing_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.establishment_id} {self.month:%Y-%m} {self.product_id}: {self.closing}"
