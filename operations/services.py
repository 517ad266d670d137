"""Writes of the register workflows: inventory, destruction, theft and loss, ward stock.

Every workflow ends in ledger lines written by ``register.services.movement_record`` (the only
writer), inside one transaction with the workflow's own rows and its audit event: a refusal
leaves nothing. Each transaction takes the register lock (the establishment's head row) first,
the same lock order as every append, so no deadlock and no interleaving with other writers.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from audit.services import audit_record
from config.errors import DomainError, InvalidInput
from config.permissions import PHARMACY, Role, has_role
from operations.models import (
    DestructionLine,
    DestructionRecord,
    InventoryCount,
    InventoryCountLine,
    NurseWardAssignment,
    TheftLossReport,
    TheftLossReportStep,
    WardReturn,
)
from operations.pv import destruction_pv_pdf
from operations.rules import pair_reversal
from register.models import Establishment, Location, Lot, Movement, RegisterHead, StockBalance
from register.services import FUTURE_TOLERANCE, default_location, movement_record, movement_reverse


def _lock_register(establishment_id: int) -> RegisterHead:
    """Take the establishment's register lock (the lock every ledger append takes first)."""
    return RegisterHead.objects.select_for_update().get(establishment_id=establishment_id)


def _on_hand(location: Location, lot: Lot) -> int:
    return StockBalance.objects.filter(location=location, lot=lot).values_list("on_hand", flat=True).first() or 0


def _require_pharmacist(actor: Any, action: str) -> None:
    # DOMAIN.md §5: validation, destruction and witnessing are the pharmacist's. The API already
    # refuses other roles; the service refuses too, so no other caller can bypass it.
    if not has_role(actor, Role.PHARMACIST):
        raise DomainError("pharmacist_required", f"Only a pharmacist may {action}.", status_code=403)


def _display_name(user: Any) -> str:
    full = user.get_full_name().strip() if hasattr(user, "get_full_name") else ""
    return f"{full} ({user.get_username()})" if full else user.get_username()


def _same_establishment(establishment_id: int, *objects: Lot | Location) -> None:
    if any(obj.establishment_id != establishment_id for obj in objects):
        raise DomainError("location_mismatch", "The lot and the location belong to different establishments.")


# ---------------------------------------------------------------------------------------------
# Inventory (annual count and ad-hoc counts, R.5132-36)
# ---------------------------------------------------------------------------------------------


def inventory_open(*, actor: Any, location: Location, note: str = "") -> InventoryCount:
    """Open a count of one location, with a line for every lot the register says is there.

    The lines carry no expected figure yet: the count is blind until it is submitted.
    """
    with transaction.atomic():
        if InventoryCount.objects.filter(location=location).exclude(status=InventoryCount.Status.VALIDATED).exists():
            raise DomainError("inventory_in_progress", f"A count of {location.name} is already in progress.")
        now = timezone.now()
        try:
            with transaction.atomic():
                count = InventoryCount.objects.create(
                    establishment_id=location.establishment_id, location=location, note=note.strip(),
                    opened_by=actor, opened_at=now,
                )
        except IntegrityError as exc:  # a concurrent open won the unique "one count in progress" index
            raise DomainError("inventory_in_progress", f"A count of {location.name} is already in progress.") from exc
        lot_ids = StockBalance.objects.filter(location=location, on_hand__gt=0).values_list("lot_id", flat=True)
        InventoryCountLine.objects.bulk_create([InventoryCountLine(count=count, lot_id=lot_id) for lot_id in lot_ids])
        audit_record(
            action="operations.inventory.opened", actor=actor, establishment=location.establishment, obj=count,
            data={"location": location.code, "lots": list(lot_ids)},
        )
    return count


def _locked_count(count: InventoryCount) -> InventoryCount:
    return InventoryCount.objects.select_for_update().select_related("location", "establishment").get(pk=count.pk)


def inventory_line_set(
    *, actor: Any, count: InventoryCount, lot: Lot, counted: int | None = None, reason: str | None = None
) -> InventoryCountLine:
    """Enter the counted units of a lot (while open) and/or the reason for its variance."""
    if counted is None and reason is None:
        raise InvalidInput("Give counted units, a reason, or both.", fields={"counted": ["Required."]})
    if counted is not None and (isinstance(counted, bool) or not isinstance(counted, int) or counted < 0):
        raise InvalidInput("Counted units are a whole number >= 0.", fields={"counted": ["Must be >= 0."]})
    with transaction.atomic():
        # Lock the count: a submission cannot snapshot the figures while a line is being changed.
        count = _locked_count(count)
        _same_establishment(count.establishment_id, lot)
        if count.status == InventoryCount.Status.VALIDATED:
            raise DomainError("inventory_validated", "This inventory is validated: it can no longer change.")
        if counted is not None and count.status != InventoryCount.Status.OPEN:
            raise DomainError(
                "inventory_submitted", "This count is submitted: re-open it to change the counted figures."
            )
        line = InventoryCountLine.objects.filter(count=count, lot=lot).first()
        if line is None:
            if count.status != InventoryCount.Status.OPEN:
                raise DomainError("inventory_submitted", "This count is submitted: re-open it to add a lot.")
            line = InventoryCountLine(count=count, lot=lot)
        if counted is not None:
            line.counted, line.counted_by, line.counted_at = counted, actor, timezone.now()
        if reason is not None:
            line.reason = reason.strip()
        line.save()
        audit_record(
            action="operations.inventory.line_set", actor=actor, establishment=count.establishment, obj=line,
            data={"count": count.pk, "lot": lot.pk, "counted": counted, "reason": reason},
        )
    return line


def inventory_submit(*, actor: Any, count: InventoryCount) -> InventoryCount:
    """Close the counting: snapshot the register's figures so the variances can be reviewed."""
    with transaction.atomic():
        count = _locked_count(count)
        if count.status != InventoryCount.Status.OPEN:
            raise DomainError("inventory_not_open", f"This count is {count.status}, not open.")
        lines = list(count.lines.select_related("lot"))
        missing = [line.lot.batch_number for line in lines if line.counted is None]
        if missing:
            raise DomainError(
                "count_incomplete", f"Lots not counted yet: {', '.join(missing)}.", extra={"lots": missing}
            )
        for line in lines:
            line.expected = _on_hand(count.location, line.lot)
            line.save(update_fields=["expected"])
        count.status, count.submitted_by, count.submitted_at = InventoryCount.Status.SUBMITTED, actor, timezone.now()
        count.save(update_fields=["status", "submitted_by", "submitted_at"])
        audit_record(
            action="operations.inventory.submitted", actor=actor, establishment=count.establishment, obj=count,
            data={"variances": {line.lot_id: line.variance for line in lines if line.variance}},
        )
    return count


def inventory_reopen(*, actor: Any, count: InventoryCount) -> InventoryCount:
    """Send a submitted count back to counting (e.g. the stock moved before validation)."""
    with transaction.atomic():
        count = _locked_count(count)
        if count.status != InventoryCount.Status.SUBMITTED:
            raise DomainError("inventory_not_submitted", f"This count is {count.status}, not submitted.")
        count.lines.update(expected=None)
        count.status = InventoryCount.Status.OPEN
        count.save(update_fields=["status"])
        audit_record(action="operations.inventory.reopened", actor=actor, establishment=count.establishment, obj=count)
    return count


def inventory_validate(*, actor: Any, count: InventoryCount) -> InventoryCount:
    """Validate a submitted count (pharmacist): post one adjustment line per variance, freeze it.

    The register lock is taken before comparing expected and counted figures: without it a
    dispensation could commit between our reading the balance and posting the adjustment, and
    the adjustment (a relative line) would then leave the stock at neither the counted nor the
    register figure. Under the lock, any line written since submission shows as a changed
    balance and the validation is refused; nothing else can write meanwhile.
    """
    _require_pharmacist(actor, "validate an inventory")
    with transaction.atomic():
        _lock_register(count.establishment_id)
        count = _locked_count(count)
        if count.status != InventoryCount.Status.SUBMITTED:
            raise DomainError("inventory_not_submitted", f"This count is {count.status}: submit it before validating.")
        lines = list(count.lines.select_related("lot__product", "lot__establishment"))
        counted_lots = {line.lot_id for line in lines}
        moved = [line.lot.batch_number for line in lines if _on_hand(count.location, line.lot) != line.expected]
        moved += list(
            StockBalance.objects.filter(location=count.location, on_hand__gt=0)
            .exclude(lot_id__in=counted_lots)
            .values_list("lot__batch_number", flat=True)
        )
        if moved:
            raise DomainError(
                "stock_moved_since_count",
                f"The register changed for {', '.join(moved)} since the count was submitted: re-open and recount.",
                extra={"lots": moved},
            )
        unexplained = [line.lot.batch_number for line in lines if line.variance and not line.reason]
        if unexplained:
            raise DomainError(
                "variance_reason_required",
                f"Every variance needs a reason: {', '.join(unexplained)}.",
                extra={"lots": unexplained},
            )
        for line in lines:
            variance = line.variance or 0
            if variance == 0:
                continue
            line.adjustment = movement_record(
                actor=actor,
                lot=line.lot,
                location=count.location,
                direction=Movement.Direction.ENTRY if variance > 0 else Movement.Direction.EXIT,
                reason=Movement.Reason.ADJUSTMENT,
                quantity=abs(variance),
                counterparty=f"Inventaire n° {count.pk} — {count.location.name}",
                note=f"Écart d'inventaire (compté {line.counted}, registre {line.expected}) : {line.reason}",
                audit_action="operations.inventory.adjusted",
                audit_data={"count": count.pk, "variance": variance},
            )
            line.save(update_fields=["adjustment"])
        count.status = InventoryCount.Status.VALIDATED
        count.validated_by, count.validated_at = actor, timezone.now()
        count.register_number = RegisterHead.objects.get(establishment_id=count.establishment_id).last_number
        count.save(update_fields=["status", "validated_by", "validated_at", "register_number"])
        audit_record(
            action="operations.inventory.validated", actor=actor, establishment=count.establishment, obj=count,
            data={"register_number": count.register_number, "adjustments": [line.adjustment_id for line in lines if line.adjustment_id]},
        )
    return count


# ---------------------------------------------------------------------------------------------
# Destruction of out-of-use stock (arrêté du 12 mars 2013 art. 7)
# ---------------------------------------------------------------------------------------------


def lot_quarantine(*, actor: Any, lot: Lot, reason: str) -> Lot:
    """Put a lot in quarantine: from now on its only exit is destruction."""
    _require_pharmacist(actor, "put a lot in quarantine")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Give the reason for the quarantine.", fields={"reason": ["This field is required."]})
    with transaction.atomic():
        # The register lock first: an append that is running finishes before the lot changes
        # state, and every later append of this establishment waits for the quarantine.
        _lock_register(lot.establishment_id)
        lot = Lot.objects.select_for_update().select_related("establishment").get(pk=lot.pk)
        if lot.quarantined_at is not None:
            raise DomainError("lot_already_quarantined", f"Lot {lot.batch_number} is already in quarantine.")
        lot.quarantined_at = timezone.now()
        lot.save(update_fields=["quarantined_at"])
        audit_record(
            action="operations.lot.quarantined", actor=actor, establishment=lot.establishment, obj=lot,
            data={"reason": reason},
        )
    return lot


def _authenticated_witness(*, actor: Any, establishment: Establishment, username: str, password: str) -> Any:
    """The witness of a destruction: a second pharmacist of the establishment, who authenticates."""
    if not username or username == actor.get_username():
        raise DomainError("witness_same_person", "The witness must be a second pharmacist, not the one who destroys.")
    witness = authenticate(username=username, password=password)
    if witness is None or not witness.is_active:
        # Kept outside any transaction the refusal rolls back: repeated failures against a
        # colleague's account must show in the audit trail (every login is an audit event).
        audit_record(
            action="operations.destruction.witness_refused", actor=actor, establishment=establishment,
            data={"witness_username": username[:150]},
        )
        raise DomainError("witness_authentication_failed", "The witness's username or password is wrong.")
    if witness.pk == actor.pk:
        raise DomainError("witness_same_person", "The witness must be a second pharmacist, not the one who destroys.")
    if not has_role(witness, Role.PHARMACIST) or not establishment.members.filter(pk=witness.pk).exists():
        raise DomainError("witness_not_pharmacist", "The witness must be a pharmacist of this establishment.")
    return witness


def destruction_perform(
    *,
    actor: Any,
    establishment: Establishment,
    items: list[tuple[Lot, int]],
    inspector_notified_on: dt.date,
    inspector_name: str,
    witness_username: str,
    witness_password: str,
    method: str = "Dénaturation puis incinération",
    location: Location | None = None,
    note: str = "",
) -> DestructionRecord:
    """Destroy quarantined stock before a witness; write the exit lines and the PV (PDF) together."""
    _require_pharmacist(actor, "destroy narcotics")
    location = location or default_location(establishment)
    if not items:
        raise InvalidInput("Name at least one lot to destroy.", fields={"lots": ["This list may not be empty."]})
    if len({lot.pk for lot, _ in items}) != len(items):
        raise InvalidInput("Each lot appears once.", fields={"lots": ["Duplicate lot."]})
    _same_establishment(establishment.pk, location, *(lot for lot, _ in items))
    if not inspector_name.strip():
        raise InvalidInput("Name the inspector notified.", fields={"inspector_name": ["This field is required."]})
    today = timezone.localdate()
    if inspector_notified_on > today:
        raise InvalidInput(
            "The notice date is in the future.", fields={"inspector_notified_on": ["In the future."]}
        )
    notice_days = settings.KETAMINE_RULES["DESTRUCTION_NOTICE_DAYS"]
    if (today - inspector_notified_on).days < notice_days:
        earliest = inspector_notified_on + dt.timedelta(days=notice_days)
        raise DomainError(
            "destruction_notice_too_short",
            f"The inspector must be notified at least {notice_days} days before a destruction "
            f"(arrêté du 12 mars 2013 art. 7): not before {earliest.isoformat()}.",
            extra={"earliest": earliest.isoformat()},
        )
    witness = _authenticated_witness(
        actor=actor, establishment=establishment, username=witness_username, password=witness_password
    )
    with transaction.atomic():
        _lock_register(establishment.pk)
        now = timezone.now()
        lots = {lot.pk: lot for lot in Lot.objects.select_related("product", "establishment").filter(
            pk__in=[lot.pk for lot, _ in items])}
        not_quarantined = [lots[lot.pk].batch_number for lot, _ in items if lots[lot.pk].quarantined_at is None]
        if not_quarantined:
            raise DomainError(
                "lot_not_quarantined",
                f"Put these lots in quarantine before destroying them: {', '.join(not_quarantined)}.",
                extra={"lots": not_quarantined},
            )
        witness_name = _display_name(witness)
        reference = f"PV-{establishment.code}-{now:%Y%m%d}-{RegisterHead.objects.get(pk=establishment.pk).last_number + 1}"
        movements = [
            movement_record(
                actor=actor,
                lot=lots[lot.pk],
                location=location,
                direction=Movement.Direction.EXIT,
                reason=Movement.Reason.DESTRUCTION,
                quantity=quantity,
                counterparty=f"Destruction — témoin {witness_name}",
                note=f"{reference} ; inspecteur {inspector_name.strip()} avisé le {inspector_notified_on.isoformat()}",
                occurred_at=now,
                audit_action="operations.destruction.line",
                audit_data={"reference": reference, "witness": witness.get_username()},
            )
            for lot, quantity in items
        ]
        record = DestructionRecord(
            establishment=establishment, location=location, reference=reference, destroyed_at=now,
            inspector_notified_on=inspector_notified_on, inspector_name=inspector_name.strip(),
            method=method.strip() or "Dénaturation puis incinération", note=note.strip(),
            performed_by=actor, performed_by_name=_display_name(actor), witness=witness, witness_name=witness_name,
        )
        pdf = destruction_pv_pdf(record=record, movements=movements)
        record.pdf, record.pdf_sha256 = pdf, hashlib.sha256(pdf).hexdigest()
        record.save(force_insert=True)
        DestructionLine.objects.bulk_create(
            [DestructionLine(destruction=record, lot=m.lot, quantity=m.quantity, movement=m) for m in movements]
        )
        audit_record(
            action="operations.destruction.performed", actor=actor, establishment=establishment, obj=record,
            data={"reference": reference, "witness": witness.get_username(), "lines": [m.number for m in movements],
                  "pdf_sha256": record.pdf_sha256},
        )
    return record


# ---------------------------------------------------------------------------------------------
# Theft and loss (R.5132-80)
# ---------------------------------------------------------------------------------------------


def theft_loss_report_create(
    *,
    actor: Any,
    lot: Lot,
    kind: str,
    quantity: int,
    circumstances: str,
    location: Location | None = None,
    discovered_at: dt.datetime | None = None,
    late_entry_reason: str = "",
) -> TheftLossReport:
    """Enter the stolen or lost units in the register (R.5132-80) and open the report checklist."""
    if kind not in (Movement.Reason.THEFT, Movement.Reason.LOSS):
        raise InvalidInput("kind is 'theft' or 'loss'.", fields={"kind": ["Invalid choice."]})
    circumstances = (circumstances or "").strip()
    if not circumstances:
        raise InvalidInput("Describe the circumstances.", fields={"circumstances": ["This field is required."]})
    with transaction.atomic():
        movement = movement_record(
            actor=actor,
            lot=lot,
            location=location,
            direction=Movement.Direction.EXIT,
            reason=kind,
            quantity=quantity,
            counterparty="Vol — déclaration R.5132-80" if kind == Movement.Reason.THEFT else "Perte — déclaration R.5132-80",
            occurred_at=discovered_at,
            note=circumstances[:2000],
            late_entry_reason=late_entry_reason,
            audit_action="operations.theft_loss.line",
        )
        return _theft_loss_report_open(actor=actor, movement=movement, circumstances=circumstances)


def _theft_loss_report_open(*, actor: Any, movement: Movement, circumstances: str) -> TheftLossReport:
    """The declaration report of a theft or loss line, with its audit event (same transaction)."""
    report = TheftLossReport.objects.create(
        establishment_id=movement.establishment_id, movement=movement, kind=movement.reason,
        circumstances=circumstances, discovered_at=movement.occurred_at, created_by=actor,
        created_at=movement.recorded_at,
    )
    audit_record(
        action="operations.theft_loss.reported", actor=actor, establishment=movement.establishment, obj=report,
        data={"kind": movement.reason, "movement": movement.number, "quantity": movement.quantity},
    )
    return report


def direct_movement_record(
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
) -> Movement:
    """A movement entered directly (receipt, return, supplier return, theft, loss).

    A theft or a loss entered this way also opens its declaration report (R.5132-80), in the
    same transaction, so no stolen or lost unit escapes the police / ARS / ANSM checklist and
    the dashboard's list of incomplete reports.
    """
    line = functools.partial(
        movement_record,
        actor=actor, lot=lot, location=location, direction=direction, reason=reason, quantity=quantity,
        counterparty=counterparty, occurred_at=occurred_at, note=note, late_entry_reason=late_entry_reason,
    )
    if reason not in (Movement.Reason.THEFT, Movement.Reason.LOSS):
        # movement_record is its own transaction: an outer one would only add a SAVEPOINT and its
        # RELEASE, the latter while the register lock is held (bench/append.py).
        return line()
    with transaction.atomic():
        movement = line()
        circumstances = note.strip() or counterparty.strip() or "Circonstances à préciser dans la déclaration."
        _theft_loss_report_open(actor=actor, movement=movement, circumstances=circumstances)
    return movement


def theft_loss_step_record(
    *, actor: Any, report: TheftLossReport, step: str, done_at: dt.datetime | None = None, reference: str = ""
) -> TheftLossReportStep:
    """Record that a declaration (police, ARS, ANSM) was made, and when: once per step."""
    if step not in TheftLossReportStep.Step.values:
        raise InvalidInput("step is 'police', 'ars' or 'ansm'.", fields={"step": ["Invalid choice."]})
    now = timezone.now()
    done_at = done_at or now
    if done_at > now + FUTURE_TOLERANCE:
        raise InvalidInput("A step cannot be done in the future.", fields={"done_at": ["In the future."]})
    if done_at < report.discovered_at:
        raise InvalidInput(
            "A declaration cannot precede the theft or loss it declares.", fields={"done_at": ["Before the event."]}
        )
    with transaction.atomic():
        # Lock the report row: two clicks on "police done" cannot both pass the check below (the
        # unique constraint is the guarantee, the lock gives the clean message).
        report = TheftLossReport.objects.select_for_update().select_related("establishment").get(pk=report.pk)
        if report.steps.filter(step=step).exists():
            raise DomainError("step_already_recorded", f"The {step} declaration is already recorded for this report.")
        recorded = TheftLossReportStep.objects.create(
            report=report, step=step, done_at=done_at, reference=reference.strip(), recorded_by=actor, recorded_at=now
        )
        audit_record(
            action="operations.theft_loss.step", actor=actor, establishment=report.establishment, obj=recorded,
            data={"report": report.pk, "step": step, "done_at": done_at.isoformat(), "reference": reference},
        )
    return recorded


# ---------------------------------------------------------------------------------------------
# Ward stock (hospital circuit, arrêté du 31 mars 1999)
# ---------------------------------------------------------------------------------------------


def ward_check_access(*, actor: Any, ward: Location) -> None:
    """A ward location; a nurse acts only on the wards she is assigned to (DOMAIN.md §5)."""
    if ward.kind != Location.Kind.WARD:
        raise DomainError("not_a_ward", f"{ward.name} is not a care unit's ward stock.")
    if has_role(actor, *PHARMACY):
        return
    if not NurseWardAssignment.objects.filter(nurse=actor, ward=ward).exists():
        raise DomainError("ward_not_assigned", f"You are not assigned to {ward.name}.", status_code=403)


def nurse_ward_assign(*, actor: Any, nurse: Any, ward: Location) -> NurseWardAssignment:
    _require_pharmacist(actor, "assign a nurse to a ward")
    if ward.kind != Location.Kind.WARD:
        raise DomainError("not_a_ward", f"{ward.name} is not a care unit's ward stock.")
    if not has_role(nurse, Role.NURSE) or not ward.establishment.members.filter(pk=nurse.pk).exists():
        raise DomainError("not_a_nurse", "Only a nurse of this establishment can be assigned to one of its wards.")
    with transaction.atomic():
        assignment, created = NurseWardAssignment.objects.get_or_create(nurse=nurse, ward=ward)
        if created:
            audit_record(
                action="operations.ward.nurse_assigned", actor=actor, establishment=ward.establishment, obj=assignment,
                data={"nurse": nurse.get_username(), "ward": ward.code},
            )
    return assignment


def _transfer_pair(
    *, actor: Any, lot: Lot, source: Location, destination: Location, quantity: int, note: str, audit_action: str
) -> tuple[Movement, Movement]:
    """The two lines of a move between locations: out of the source, then into the destination."""
    out = movement_record(
        actor=actor, lot=lot, location=source, direction=Movement.Direction.EXIT, reason=Movement.Reason.TRANSFER_OUT,
        quantity=quantity, counterparty=f"Vers {destination.name} ({destination.code})", note=note,
        audit_action=audit_action, audit_data={"to": destination.code},
    )
    into = movement_record(
        actor=actor, lot=lot, location=destination, direction=Movement.Direction.ENTRY,
        reason=Movement.Reason.TRANSFER_IN, quantity=quantity,
        counterparty=f"Depuis {source.name} ({source.code})", note=note, paired_with=out,
        audit_action=audit_action, audit_data={"from": source.code},
    )
    return out, into


def transfer_create(
    *, actor: Any, lot: Lot, source: Location, destination: Location, quantity: int, note: str = ""
) -> tuple[Movement, Movement]:
    """Move units between the pharmacy vault and a ward (refill of the *dotation*, or a return).

    Both lines are written in one transaction: the stock is never counted twice or lost between.
    """
    _same_establishment(lot.establishment_id, source, destination)
    kinds = {source.kind, destination.kind}
    if source.pk == destination.pk or kinds != {Location.Kind.VAULT, Location.Kind.WARD}:
        raise DomainError(
            "transfer_route_invalid", "A transfer goes from the pharmacy vault to a ward, or from a ward back to it."
        )
    with transaction.atomic():
        return _transfer_pair(
            actor=actor, lot=lot, source=source, destination=destination, quantity=quantity, note=note.strip(),
            audit_action="operations.transfer.recorded",
        )


def transfer_reverse(*, actor: Any, movement: Movement, reason: str) -> tuple[Movement, Movement]:
    """Reverse both lines of a transfer together (R.5132-36: corrections are new lines).

    The entry half is reversed first (the units leave the destination, refused if they were
    already used there), then the exit half (they come back to the source), in one transaction.
    """
    if movement.reason == Movement.Reason.TRANSFER_IN and movement.paired_with_id:
        into = movement
        out = Movement.objects.select_related("lot__product", "lot__establishment", "location").get(pk=movement.paired_with_id)
    elif movement.reason == Movement.Reason.TRANSFER_OUT:
        out = movement
        found = Movement.objects.select_related("lot__product", "lot__establishment", "location").filter(
            paired_with=movement, reason=Movement.Reason.TRANSFER_IN
        ).first()
        if found is None:
            raise DomainError("not_a_transfer", f"Line {movement.number} has no paired transfer line.")
        into = found
    else:
        raise DomainError("not_a_transfer", f"Line {movement.number} is not a transfer line.")
    token = pair_reversal.set(frozenset({out.pk, into.pk}))
    try:
        with transaction.atomic():
            # movement_reverse takes the register lock; both reversals share this transaction.
            undo_in = movement_reverse(actor=actor, movement=into, reason=reason)
            undo_out = movement_reverse(actor=actor, movement=out, reason=reason)
    finally:
        pair_reversal.reset(token)
    return undo_in, undo_out


def administration_record(
    *,
    actor: Any,
    lot: Lot,
    ward: Location,
    quantity: int,
    patient_name: str,
    patient_address: str = "",
    prescriber_name: str = "",
    prescriber_address: str = "",
    occurred_at: dt.datetime | None = None,
    note: str = "",
    late_entry_reason: str = "",
) -> Movement:
    """An administration to a patient from the ward's stock; names are frozen on the line (R.5132-36)."""
    patient_name = (patient_name or "").strip()
    if not patient_name:
        raise InvalidInput("Name the patient.", fields={"patient_name": ["This field is required."]})
    _same_establishment(lot.establishment_id, ward)
    ward_check_access(actor=actor, ward=ward)
    return movement_record(
        actor=actor, lot=lot, location=ward, direction=Movement.Direction.EXIT, reason=Movement.Reason.ADMINISTRATION,
        quantity=quantity, counterparty=f"{patient_name} — {ward.name}", patient_name=patient_name,
        patient_address=patient_address.strip(), prescriber_name=prescriber_name.strip(),
        prescriber_address=prescriber_address.strip(), occurred_at=occurred_at, note=note.strip(),
        late_entry_reason=late_entry_reason, audit_action="operations.ward.administration",
    )


def ward_return_record(
    *, actor: Any, lot: Lot, ward: Location, kind: str, quantity: int, note: str = ""
) -> WardReturn:
    """Ampoules a ward sends back: unused ones return to the vault (a transfer pair); used (empty)
    ones are recorded for traceability and cannot exceed what the ward administered."""
    if kind not in WardReturn.Kind.values:
        raise InvalidInput("kind is 'unused' or 'used'.", fields={"kind": ["Invalid choice."]})
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidInput("The quantity is a whole number of units, greater than zero.", fields={"quantity": ["Must be > 0."]})
    _same_establishment(lot.establishment_id, ward)
    ward_check_access(actor=actor, ward=ward)
    with transaction.atomic():
        # The register lock: two returns of empty ampoules cannot both fit under the same
        # administrations, and an unused return's transfer pair is appended in order.
        _lock_register(lot.establishment_id)
        transfer_out = transfer_in = None
        if kind == WardReturn.Kind.UNUSED:
            transfer_out, transfer_in = _transfer_pair(
                actor=actor, lot=lot, source=ward, destination=default_location(lot.establishment), quantity=quantity,
                note=f"Retour d'ampoules non utilisées. {note.strip()}".strip(), audit_action="operations.ward.return",
            )
        else:
            administered = (
                Movement.objects.filter(
                    location=ward, lot=lot, reason=Movement.Reason.ADMINISTRATION, reversed_by__isnull=True
                ).aggregate(total=Sum("quantity"))["total"]
                or 0
            )
            returned = (
                WardReturn.objects.filter(ward=ward, lot=lot, kind=WardReturn.Kind.USED).aggregate(total=Sum("quantity"))["total"]
                or 0
            )
            if returned + quantity > administered:
                raise DomainError(
                    "empty_returns_exceed_administrations",
                    f"{ward.name} administered {administered} unit(s) of lot {lot.batch_number} and already returned "
                    f"{returned} empty: {quantity} more cannot be returned.",
                    extra={"administered": administered, "returned": returned},
                )
        ward_return = WardReturn.objects.create(
            establishment_id=lot.establishment_id, ward=ward, lot=lot, kind=kind, quantity=quantity,
            returned_by=actor, returned_at=timezone.now(), note=note.strip(),
            transfer_out=transfer_out, transfer_in=transfer_in,
        )
        audit_record(
            action="operations.ward.return", actor=actor, establishment=lot.establishment, obj=ward_return,
            data={"ward": ward.code, "lot": lot.pk, "kind": kind, "quantity": quantity},
        )
    return ward_return
