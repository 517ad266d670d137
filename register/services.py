"""Writes to the register. ``movement_record`` is the only code that appends a ledger line."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.services import audit_record
from config.errors import DomainError, InvalidInput
from register.chain import GENESIS_HASH, hash_payload, line_payload
from register.models import (
    Establishment,
    Location,
    Lot,
    MonthlyClosing,
    Movement,
    Product,
    RegisterHead,
    StockBalance,
    SubstanceClassification,
)

# Future dates are refused; a small allowance absorbs clock skew between client and server.
FUTURE_TOLERANCE = dt.timedelta(minutes=2)
# A line whose operation happened longer ago than this is a late entry and must say why.
LATE_ENTRY_AFTER = dt.timedelta(hours=getattr(settings, "LATE_ENTRY_HOURS", 24))

# Reasons that still move a quarantined lot: its destruction, the correction of an earlier line,
# and an inventory adjustment (the count records what is physically there, quarantined or not).
QUARANTINE_EXEMPT_REASONS = frozenset({Movement.Reason.DESTRUCTION, Movement.Reason.REVERSAL, Movement.Reason.ADJUSTMENT})

# Reasons a client may post directly to /movements/; the others come from their own workflow
# (dispensations from a prescription, transfers, reversals, inventory, destruction).
DIRECT_REASONS: dict[str, set[str]] = {
    Movement.Direction.ENTRY: {Movement.Reason.RECEIPT, Movement.Reason.RETURN},
    Movement.Direction.EXIT: {Movement.Reason.SUPPLIER_RETURN, Movement.Reason.THEFT, Movement.Reason.LOSS},
}


def establishment_create(*, code: str, name: str, address: str) -> Establishment:
    """An establishment with its register head and its pharmacy vault."""
    with transaction.atomic():
        establishment = Establishment.objects.create(code=code, name=name, address=address)
        RegisterHead.objects.create(establishment=establishment, last_number=0, last_hash=GENESIS_HASH)
        Location.objects.create(
            establishment=establishment, code="VAULT", name="Coffre de la pharmacie", kind=Location.Kind.VAULT
        )
    return establishment


def lot_create(*, actor: Any, establishment: Establishment, product: Product, batch_number: str, expires_on: dt.date) -> Lot:
    batch_number = batch_number.strip()
    if not batch_number:
        raise InvalidInput("The batch number is required.", fields={"batch_number": ["This field is required."]})
    with transaction.atomic():
        if Lot.objects.filter(establishment=establishment, product=product, batch_number=batch_number).exists():
            raise DomainError(
                "lot_exists",
                f"Lot {batch_number} of {product.name} already exists in this establishment.",
                fields={"batch_number": ["Already exists for this product."]},
            )
        lot = Lot.objects.create(
            establishment=establishment, product=product, batch_number=batch_number, expires_on=expires_on
        )
        audit_record(
            action="register.lot.created",
            actor=actor,
            establishment=establishment,
            obj=lot,
            data={"product": product.pk, "batch_number": batch_number, "expires_on": expires_on.isoformat()},
        )
    return lot


def default_location(establishment: Establishment) -> Location:
    return Location.objects.get(establishment=establishment, kind=Location.Kind.VAULT, code="VAULT")


def _check_narcotic(product: Product, day: dt.date) -> None:
    # DOMAIN.md §1: the register rules apply to movements dated within a narcotic period.
    listed = (
        SubstanceClassification.objects.filter(
            substance_id=product.substance_id,
            schedule=SubstanceClassification.Schedule.NARCOTIC,
            valid_from__lte=day,
        )
        .exclude(valid_to__lt=day)
        .exists()
    )
    if not listed:
        raise DomainError(
            "not_narcotic_on_date",
            f"{product.substance} was not listed as a narcotic on {day.isoformat()}: "
            "this register only records narcotic movements.",
        )


def movement_record(
    *,
    actor: Any,
    lot: Lot,
    direction: str,
    reason: str,
    quantity: int,
    location: Location | None = None,
    counterparty: str = "",
    occurred_at: dt.datetime | None = None,
    note: str = "",
    late_entry_reason: str = "",
    prescriber_name: str = "",
    prescriber_address: str = "",
    patient_name: str = "",
    patient_address: str = "",
    reverses: Movement | None = None,
    paired_with: Movement | None = None,
    audit_action: str = "register.movement.recorded",
    audit_data: dict[str, Any] | None = None,
) -> Movement:
    """Append one line to the establishment's register (R.5132-36) and update the stock cache.

    One transaction: lock the register head, allocate the next order number, check the rules,
    hash, insert, update the balance, write the audit event. A refusal rolls everything back,
    including the number, so numbers stay gap-free.
    """
    if direction not in Movement.Direction.values:
        raise InvalidInput("direction must be 'entry' or 'exit'.", fields={"direction": ["Invalid choice."]})
    if reason not in Movement.Reason.values:
        raise InvalidInput(f"Unknown reason {reason!r}.", fields={"reason": ["Invalid choice."]})
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidInput("The quantity is a whole number of units, greater than zero.", fields={"quantity": ["Must be > 0."]})
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + FUTURE_TOLERANCE:
        raise InvalidInput(
            "A movement cannot be dated in the future: the register records what has happened.",
            fields={"occurred_at": ["In the future."]},
            code="occurred_in_future",
        )
    late_entry_reason = late_entry_reason.strip()
    if now - occurred_at > LATE_ENTRY_AFTER and not late_entry_reason:
        raise InvalidInput(
            "This movement is dated more than 24 hours ago: a late entry must give its reason (late_entry_reason).",
            fields={"late_entry_reason": ["Required for a late entry."]},
            code="late_entry_reason_required",
        )
    location = location or default_location(lot.establishment)
    if location.establishment_id != lot.establishment_id:
        raise DomainError("location_mismatch", "The lot and the location belong to different establishments.")
    quarantine_applies = reason not in QUARANTINE_EXEMPT_REASONS
    if lot.quarantined_at is not None and quarantine_applies:
        raise _quarantined(lot)
    if direction == Movement.Direction.ENTRY and reason == Movement.Reason.RECEIPT and lot.expires_on < occurred_at.date():
        raise DomainError("lot_expired", f"Lot {lot.batch_number} expired on {lot.expires_on.isoformat()}.")
    _check_narcotic(lot.product, timezone.localdate(occurred_at))

    delta = quantity if direction == Movement.Direction.ENTRY else -quantity
    with transaction.atomic():
        with connection.cursor() as cursor:
            # The register lock. Taking the head row first serialises appends per establishment:
            # without it two writers would read the same last number and previous hash and fork
            # the chain. Every writer takes it first, then the balance row: one lock order, no deadlock.
            cursor.execute(
                "UPDATE register_registerhead SET last_number = last_number + 1 "
                "WHERE establishment_id = %s RETURNING last_number, last_hash",
                [lot.establishment_id],
            )
            head = cursor.fetchone()
            if head is None:
                raise DomainError("register_missing", "This establishment has no register.")
            number, prev_hash = head
            if occurred_at < _month_start(now):
                # A closed month's balance is frozen (R.5132-36): a late line dated inside it would
                # silently falsify the closing. Checked under the lock, as closings take it too.
                _check_month_open(lot, occurred_at)
            balance_after = _apply_balance(
                cursor, location=location, lot=lot, delta=delta, refuse_quarantined=quarantine_applies
            )

        movement = Movement(
            # The object, not only its id: the API answer reads its code without another query.
            establishment=lot.establishment,
            number=number,
            location=location,
            lot=lot,
            direction=direction,
            reason=reason,
            quantity=quantity,
            balance_after=balance_after,
            counterparty=counterparty,
            prescriber_name=prescriber_name,
            prescriber_address=prescriber_address,
            patient_name=patient_name,
            patient_address=patient_address,
            occurred_at=occurred_at,
            recorded_at=now,
            recorded_by=actor,
            recorded_by_name=actor.get_username(),
            note=note,
            late_entry_reason=late_entry_reason,
            reverses=reverses,
            paired_with=paired_with,
            prev_hash=prev_hash,
        )
        movement.hash = hash_payload(movement_payload(movement, establishment_code=lot.establishment.code))
        _insert_line_and_move_head(movement)
        audit_record(
            action=audit_action,
            actor=actor,
            establishment=lot.establishment,
            obj=movement,
            data={
                "number": number,
                "direction": direction,
                "reason": reason,
                "lot": lot.pk,
                "location": location.code,
                "quantity": quantity,
                **(audit_data or {}),
            },
        )
    return movement


def _insert_line_and_move_head(movement: Movement) -> None:
    """Insert the line and point the register head at its hash, in one statement.

    Both happen while the register lock is held, so every round trip here lengthens the time
    other writers of the establishment wait (bench/append.py): one statement instead of two.
    The columns and their database values come from the model's own fields, as ``save()`` would.
    """
    fields = [field for field in Movement._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    values = [field.get_db_prep_save(field.pre_save(movement, True), connection) for field in fields]
    value_slots = ", ".join(["%s"] * len(fields))
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH line AS (INSERT INTO {Movement._meta.db_table} ({columns}) VALUES ({value_slots}) RETURNING id) "
            f"UPDATE {RegisterHead._meta.db_table} SET last_hash = %s WHERE establishment_id = %s "
            "RETURNING (SELECT id FROM line)",
            [*values, movement.hash, movement.establishment_id],
        )
        movement.pk = cursor.fetchone()[0]
    movement._state.adding = False
    movement._state.db = connection.alias


def _quarantined(lot: Lot) -> DomainError:
    return DomainError(
        "lot_quarantined", f"Lot {lot.batch_number} is in quarantine: its only possible exit is destruction."
    )


def _month_start(moment: dt.datetime) -> dt.datetime:
    local = timezone.localtime(moment)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def _check_month_open(lot: Lot, occurred_at: dt.datetime) -> None:
    month = _month_start(occurred_at).date()
    if MonthlyClosing.objects.filter(establishment_id=lot.establishment_id, product_id=lot.product_id, month=month).exists():
        raise DomainError(
            "month_closed",
            f"{month:%m/%Y} is closed for {lot.product.name}: its balance is frozen. Record the movement "
            "with today's date and explain the delay in the note.",
            fields={"occurred_at": ["In a closed month."]},
        )


def _apply_balance(cursor: Any, *, location: Location, lot: Lot, delta: int, refuse_quarantined: bool = False) -> int:
    """Apply ``delta`` to the (location, lot) balance and return the new balance.

    An exit only matches a row holding enough units, so the balance never goes negative; the
    CHECK constraint on the table is the guarantee behind this message. An exit also re-reads
    the lot's quarantine here, under the register lock that quarantining takes: a lot put in
    quarantine while this request was on its way cannot slip out (the check before the lock
    only gives the early, cheap answer).
    """
    if delta > 0:
        cursor.execute(
            "INSERT INTO register_stockbalance (location_id, lot_id, on_hand, last_number) VALUES (%s, %s, %s, 0) "
            "ON CONFLICT (location_id, lot_id) DO UPDATE SET on_hand = register_stockbalance.on_hand + EXCLUDED.on_hand "
            "RETURNING on_hand",
            [location.pk, lot.pk, delta],
        )
        return int(cursor.fetchone()[0])
    cursor.execute(
        "UPDATE register_stockbalance SET on_hand = on_hand + %s "
        "WHERE location_id = %s AND lot_id = %s AND on_hand + %s >= 0 "
        "AND NOT (%s AND EXISTS (SELECT 1 FROM register_lot WHERE id = %s AND quarantined_at IS NOT NULL)) "
        "RETURNING on_hand",
        [delta, location.pk, lot.pk, delta, refuse_quarantined, lot.pk],
    )
    row = cursor.fetchone()
    if row is None:
        if refuse_quarantined and Lot.objects.filter(pk=lot.pk, quarantined_at__isnull=False).exists():
            raise _quarantined(lot)
        on_hand = (
            StockBalance.objects.filter(location=location, lot=lot).values_list("on_hand", flat=True).first() or 0
        )
        raise DomainError(
            "insufficient_stock",
            f"Only {on_hand} {lot.product.unit_label}(s) of lot {lot.batch_number} at {location.name}; "
            f"cannot take out {-delta}.",
            extra={"on_hand": on_hand},
        )
    return int(row[0])


def movement_payload(movement: Movement, *, establishment_code: str) -> dict[str, Any]:
    """The canonical content of a line, as hashed (see ``register.chain``)."""
    return line_payload(
        establishment_code=establishment_code,
        number=movement.number,
        location_code=movement.location.code,
        lot_id=movement.lot_id,
        batch_number=movement.lot.batch_number,
        product_id=movement.lot.product_id,
        direction=movement.direction,
        reason=movement.reason,
        quantity=movement.quantity,
        balance_after=movement.balance_after,
        counterparty=movement.counterparty,
        prescriber_name=movement.prescriber_name,
        prescriber_address=movement.prescriber_address,
        patient_name=movement.patient_name,
        patient_address=movement.patient_address,
        occurred_at=movement.occurred_at,
        recorded_at=movement.recorded_at,
        recorded_by_name=movement.recorded_by_name,
        note=movement.note,
        late_entry_reason=movement.late_entry_reason,
        reverses_number=movement.reverses.number if movement.reverses is not None else None,
        paired_with_number=movement.paired_with.number if movement.paired_with is not None else None,
        prev_hash=movement.prev_hash,
    )


def movement_reverse(*, actor: Any, movement: Movement, reason: str) -> Movement:
    """Correct a line by writing its opposite (R.5132-36: no modification after validation).

    The original stays as it was; the new line points at it. A line is reversed at most once
    (unique constraint on ``reverses``) and a reversal is never itself reversed.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A reversal must give its reason.", fields={"reason": ["This field is required."]})
    if movement.reason == Movement.Reason.REVERSAL:
        raise DomainError("reversal_of_reversal", f"Line {movement.number} is itself a reversal: it cannot be reversed.")
    with transaction.atomic():
        # Lock the original line's establishment register first (same order as every append),
        # then check "not yet reversed": two concurrent reversals cannot both see it free.
        RegisterHead.objects.select_for_update().get(establishment_id=movement.establishment_id)
        if Movement.objects.filter(reverses=movement).exists():
            raise DomainError("already_reversed", f"Line {movement.number} has already been reversed.")
        _check_no_later_inventory(movement)
        opposite = Movement.Direction.EXIT if movement.direction == Movement.Direction.ENTRY else Movement.Direction.ENTRY
        return movement_record(
            actor=actor,
            lot=movement.lot,
            location=movement.location,
            direction=opposite,
            reason=Movement.Reason.REVERSAL,
            quantity=movement.quantity,
            counterparty=movement.counterparty,
            prescriber_name=movement.prescriber_name,
            prescriber_address=movement.prescriber_address,
            patient_name=movement.patient_name,
            patient_address=movement.patient_address,
            note=f"Annulation de l'écriture n° {movement.number} : {reason}",
            reverses=movement,
            audit_action="register.movement.reversed",
            audit_data={"reverses": movement.number, "reason": reason},
        )


def _check_no_later_inventory(movement: Movement) -> None:
    """Hook for the inventory workflow: a validated count after the line freezes it."""
    from register import inventory_rules

    inventory_rules.check_reversal_allowed(movement)
