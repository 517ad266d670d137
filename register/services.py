"""Writes to the register. ``movement_record`` is the only code that appends a ledger line."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import DatabaseError, connection, transaction
from django.db.models import CharField
from django.utils import timezone
from psycopg.types.json import Jsonb

from audit.services import audit_event_values, audit_record
from config.errors import DomainError, InvalidInput
from register.chain import GENESIS_HASH, line_hash_parts, line_payload
from register.closing import month_start
from register.models import (
    FUTURE_TOLERANCE,
    LATE_ENTRY_AFTER,
    Establishment,
    Location,
    Lot,
    Movement,
    Product,
    RegisterHead,
)

# Every establishment's pharmacy vault, the default location of a line (establishment_create).
VAULT_CODE = "VAULT"

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
            establishment=establishment, code=VAULT_CODE, name="Coffre de la pharmacie", kind=Location.Kind.VAULT
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
    return Location.objects.get(establishment=establishment, kind=Location.Kind.VAULT, code=VAULT_CODE)


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

    The rules that cannot change while the request waits are checked here, before the lock; then
    one call of the database function ``register_append`` does the rest in one transaction: lock
    the register head, allocate the next order number, check the narcotic listing and re-check
    what another writer could have changed (closed month, quarantine, stock), hash, insert,
    update the balance, write the audit event. A refusal rolls everything back, including the number, so numbers stay
    gap-free.
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
    if location is not None and location.establishment_id != lot.establishment_id:
        raise DomainError("location_mismatch", "The lot and the location belong to different establishments.")
    quarantine_applies = reason not in QUARANTINE_EXEMPT_REASONS
    if lot.quarantined_at is not None and quarantine_applies:
        raise _quarantined(lot)
    if direction == Movement.Direction.ENTRY and reason == Movement.Reason.RECEIPT and lot.expires_on < occurred_at.date():
        raise DomainError("lot_expired", f"Lot {lot.batch_number} expired on {lot.expires_on.isoformat()}.")

    establishment = lot.establishment
    # What the line says, stored as given and hashed as given (register.chain).
    content: dict[str, Any] = {
        "direction": direction,
        "reason": reason,
        "quantity": quantity,
        "counterparty": counterparty,
        "prescriber_name": prescriber_name,
        "prescriber_address": prescriber_address,
        "patient_name": patient_name,
        "patient_address": patient_address,
        "occurred_at": occurred_at,
        "recorded_at": now,
        "recorded_by_name": actor.get_username(),
        "note": note,
        "late_entry_reason": late_entry_reason,
    }
    for name, value in content.items():
        limit = _TEXT_LIMITS.get(name)
        if limit is not None and len(value) > limit:
            # PostgreSQL would silently cut trailing spaces beyond a varchar's length, and the
            # stored line would then no longer match the hash of what was given: refuse instead.
            raise InvalidInput(f"{name} is limited to {limit} characters.", fields={name: [f"At most {limit} characters."]})
    movement = Movement(
        # The object, not only its id: the API answer reads its code without another query.
        establishment=establishment,
        location=location,
        lot=lot,
        recorded_by=actor,
        reverses=reverses,
        paired_with=paired_with,
        **content,
    )
    hash_parts = line_hash_parts(
        establishment_code=establishment.code,
        location_code=location.code if location is not None else VAULT_CODE,
        lot_id=lot.pk,
        batch_number=lot.batch_number,
        product_id=lot.product_id,
        reverses_number=reverses.number if reverses is not None else None,
        paired_with_number=paired_with.number if paired_with is not None else None,
        **content,
    )
    event = audit_event_values(
        action=audit_action,
        actor=actor,
        establishment=establishment,
        object_type=Movement._meta.label,
        data={
            "direction": direction,
            "reason": reason,
            "lot": lot.pk,
            "location": location.code if location is not None else VAULT_CODE,
            "quantity": quantity,
            **(audit_data or {}),
        },
    )
    actor_row = event["actor"]
    params = [
        establishment.pk, location.pk if location is not None else None, lot.pk,
        lot.product.substance_id, lot.product_id, timezone.localdate(occurred_at),
        _month_to_check(occurred_at), quarantine_applies,
        direction, reason, quantity, counterparty, prescriber_name, prescriber_address,
        patient_name, patient_address, occurred_at, now, actor.pk, movement.recorded_by_name,
        note, late_entry_reason, reverses.pk if reverses is not None else None,
        paired_with.pk if paired_with is not None else None, list(hash_parts),
        actor_row.pk if actor_row is not None else None, event["actor_username"], event["role"],
        event["action"], event["object_type"], Jsonb(event["data"]), event["ip_address"],
        event["user_agent"], event["request_id"],
    ]
    # register_append (register/migrations/0005_register_append.py) takes the register lock,
    # allocates the number, re-checks what must be checked under the lock (listing, closed month,
    # quarantine, stock), hashes, inserts the line and its audit event and moves the head. Called
    # outside any transaction, the statement is its own transaction: the COMMIT happens in the
    # same round trip and the lock is released as soon as the database is done. Inside the
    # caller's transaction (a dispensation, a transfer), a savepoint keeps a refusal from
    # aborting it, as an atomic block would.
    try:
        if connection.in_atomic_block:
            with transaction.atomic():
                row = _register_append(params)
        else:
            row = _register_append(params)
    except DatabaseError as error:
        refusal = _refusal(error, lot=lot, location=location, occurred_at=occurred_at, delta=quantity)
        if refusal is None:
            raise
        raise refusal from None
    line_id, number, balance_after, line_hash, prev_hash, location_id = row
    movement.pk = line_id
    movement.number = number
    movement.balance_after = balance_after
    movement.prev_hash = prev_hash
    movement.hash = line_hash
    if location is None:
        # The vault the function chose, with what is known of it; its other fields load on demand.
        movement.location = Location.from_db(
            connection.alias, ["id", "establishment_id", "code", "kind"],
            [location_id, establishment.pk, VAULT_CODE, Location.Kind.VAULT],
        )
    movement._state.adding = False
    movement._state.db = connection.alias
    return movement


# The length limits of the line's text columns (varchar(n)), checked before hashing.
_TEXT_LIMITS = {
    field.name: field.max_length
    for field in Movement._meta.concrete_fields
    if isinstance(field, CharField) and field.max_length is not None
}


def _month_to_check(occurred_at: dt.datetime) -> dt.date | None:
    """The month whose closing a line dated ``occurred_at`` must not fall into.

    Always the line's own month, even when it looks current: deciding "this month, nothing to
    check" before the lock would let a request computed at 23:59:59 slip into the month a
    ``close_month`` committed at midnight while the request waited for the lock. Under the lock
    the check is one index lookup. (None skips it: tests use that to plant a line past the guard.)
    """
    return month_start(timezone.localdate(occurred_at))


def _register_append(params: list[Any]) -> tuple[Any, ...]:
    with connection.cursor() as cursor:
        cursor.execute(_REGISTER_APPEND, params)
        return tuple(cursor.fetchone())


_REGISTER_APPEND = "SELECT * FROM register_append(" + ", ".join(["%s"] * 34) + ")"
_REFUSAL_PREFIX = "register_append:"


def _refusal(
    error: DatabaseError, *, lot: Lot, location: Location | None, occurred_at: dt.datetime, delta: int
) -> DomainError | None:
    """The DomainError for a refusal raised by ``register_append``; None for any other error."""
    diag = getattr(error.__cause__, "diag", None)
    if diag is None or diag.sqlstate != "P0001" or not (diag.message_primary or "").startswith(_REFUSAL_PREFIX):
        return None
    message: str = diag.message_primary
    status = message.removeprefix(_REFUSAL_PREFIX)
    if status == "not_narcotic_on_date":
        return DomainError(
            "not_narcotic_on_date",
            f"{lot.product.substance} was not listed as a narcotic on {timezone.localdate(occurred_at).isoformat()}: "
            "this register only records narcotic movements.",
        )
    if status == "month_closed":
        month = month_start(timezone.localdate(occurred_at))
        return DomainError(
            "month_closed",
            f"{month:%m/%Y} is closed for {lot.product.name}: its balance is frozen. Record the movement "
            "with today's date and explain the delay in the note.",
            fields={"occurred_at": ["In a closed month."]},
        )
    if status == "lot_quarantined":
        return _quarantined(lot)
    if status == "insufficient_stock":
        on_hand = int(diag.message_detail)
        # The caller's location when it gave one; else the vault the function chose.
        location = location or Location.objects.filter(pk=int(diag.message_hint)).first()
        return DomainError(
            "insufficient_stock",
            f"Only {on_hand} {lot.product.unit_label}(s) of lot {lot.batch_number} at "
            f"{location.name if location is not None else VAULT_CODE}; cannot take out {delta}.",
            extra={"on_hand": on_hand},
        )
    if status == "register_missing":
        return DomainError("register_missing", "This establishment has no register.")
    return None  # a code this function does not know: let the error through rather than misname it


def _quarantined(lot: Lot) -> DomainError:
    return DomainError(
        "lot_quarantined", f"Lot {lot.batch_number} is in quarantine: its only possible exit is destruction."
    )


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
