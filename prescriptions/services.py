"""Writes: patients, secure prescriptions (*ordonnances sécurisées*) and dispensations.

Each service is one transaction that takes its locks first, checks the rules (DOMAIN.md §3, §4)
and raises ``DomainError`` with a stable code, then writes its rows, the register line and the
audit events together: a refusal leaves nothing behind.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from config.errors import DomainError, InvalidInput
from config.permissions import Role, has_role
from prescriptions import selectors, words
from prescriptions.hepatotoxicity import Alert
from prescriptions.models import Dispensation, Patient, Prescriber, PrescriptionLine, SecurePrescription
from register.models import Establishment, Lot, Movement, Product
from register.services import movement_record

RPPS_PATTERN = re.compile(r"^[0-9]{11}$")


def _rules() -> dict[str, Any]:
    return dict(settings.KETAMINE_RULES)


def _missing(values: dict[str, Any]) -> dict[str, list[str]]:
    return {name: ["This field is required."] for name, value in values.items() if value in (None, "") or (
        isinstance(value, str) and not value.strip())}


# --- people -------------------------------------------------------------------------------


def prescriber_register(*, actor: Any, user: Any, title: str, rpps: str, address: str) -> Prescriber:
    """Create or update a prescriber's identity (R.5132-3: name, role, RPPS, address)."""
    rpps = (rpps or "").strip()
    missing = _missing({"title": title, "rpps": rpps, "address": address, "last_name": user.last_name})
    if missing:
        raise InvalidInput("A prescriber needs a name, a role, an RPPS number and an address.", fields=missing,
                           code="prescriber_incomplete")
    if not RPPS_PATTERN.match(rpps):
        raise InvalidInput("The RPPS identifier is 11 digits.", fields={"rpps": ["11 digits."]}, code="rpps_invalid")
    with transaction.atomic():
        prescriber, _ = Prescriber.objects.update_or_create(
            user=user, defaults={"title": title.strip(), "rpps": rpps, "address": address.strip()}
        )
        audit_record(action="prescriptions.prescriber.registered", actor=actor, obj=prescriber,
                     data={"user": user.pk, "rpps": rpps})
    return prescriber


def patient_create(
    *,
    actor: Any,
    establishment: Establishment,
    last_name: str,
    first_name: str,
    sex: str,
    birth_date: dt.date | None,
    address: str,
    weight_kg: Decimal | None = None,
    hepatic_impairment: bool = False,
) -> Patient:
    """A patient of the establishment, with what the secure prescription must name (R.5132-3)."""
    missing = _missing({"last_name": last_name, "first_name": first_name, "sex": sex, "birth_date": birth_date,
                        "address": address})
    if missing:
        raise InvalidInput("The patient's name, sex, birth date and address are required.", fields=missing,
                           code="patient_incomplete")
    assert birth_date is not None
    if sex not in Patient.Sex.values:
        raise InvalidInput("sex is 'F' or 'M'.", fields={"sex": ["Invalid choice."]})
    if birth_date > timezone.localdate():
        raise InvalidInput("The birth date is in the future.", fields={"birth_date": ["In the future."]})
    if weight_kg is not None and weight_kg <= 0:
        raise InvalidInput("The weight is positive.", fields={"weight_kg": ["Must be > 0."]})
    _check_member(actor, establishment)
    with transaction.atomic():
        patient = Patient.objects.create(
            establishment=establishment, last_name=last_name.strip(), first_name=first_name.strip(), sex=sex,
            birth_date=birth_date, address=address.strip(), weight_kg=weight_kg,
            hepatic_impairment=hepatic_impairment, created_by=actor,
        )
        audit_record(action="prescriptions.patient.created", actor=actor, establishment=establishment, obj=patient,
                     data={"hepatic_impairment": hepatic_impairment})
    return patient


# --- prescriptions ------------------------------------------------------------------------


@dataclass(frozen=True)
class LineInput:
    product: Product
    kind: str
    dose_mg: Decimal | None = None
    doses_per_day: int | None = None
    rate_mg_per_h: Decimal | None = None
    hours_per_day: Decimal | None = None


@dataclass
class IssuedPrescription:
    prescription: SecurePrescription
    alerts: list[Alert]


def _line_errors(line: LineInput) -> dict[str, list[str]]:
    needed: dict[str, Decimal | int | None]
    extra: dict[str, Decimal | int | None]
    if line.kind == PrescriptionLine.Kind.BOLUS:
        needed = {"dose_mg": line.dose_mg, "doses_per_day": line.doses_per_day}
        extra = {"rate_mg_per_h": line.rate_mg_per_h, "hours_per_day": line.hours_per_day}
    elif line.kind == PrescriptionLine.Kind.INFUSION:
        needed = {"rate_mg_per_h": line.rate_mg_per_h, "hours_per_day": line.hours_per_day}
        extra = {"dose_mg": line.dose_mg, "doses_per_day": line.doses_per_day}
    else:
        return {"kind": ["'bolus' or 'infusion'."]}
    errors = {name: ["Required and > 0 for this kind."] for name, value in needed.items() if value is None or value <= 0}
    errors.update({name: ["Not used for this kind."] for name, value in extra.items() if value is not None})
    if line.hours_per_day is not None and line.hours_per_day > 24:
        errors["hours_per_day"] = ["At most 24."]
    return errors


def _line_words(line: LineInput) -> str:
    if line.kind == PrescriptionLine.Kind.BOLUS:
        assert line.dose_mg is not None and line.doses_per_day is not None
        return words.bolus_words(dose_mg=line.dose_mg, doses_per_day=line.doses_per_day)
    assert line.rate_mg_per_h is not None and line.hours_per_day is not None
    return words.infusion_words(rate_mg_per_h=line.rate_mg_per_h, hours_per_day=line.hours_per_day)


def _check_prescriber(actor: Any) -> Prescriber:
    """R.5132-3: the form names the prescriber, their role, RPPS number and address."""
    prescriber = Prescriber.objects.filter(user=actor).select_related("user").first()
    if prescriber is None:
        raise DomainError("prescriber_incomplete", "You have no prescriber identity (role, RPPS, address) on file.",
                          fields={"prescriber": ["No prescriber identity."]})
    missing = _missing({"first_name": actor.first_name, "last_name": actor.last_name, "title": prescriber.title,
                        "rpps": prescriber.rpps, "address": prescriber.address})
    if missing:
        raise DomainError("prescriber_incomplete", "The prescriber's identity is incomplete.", fields=missing)
    if not RPPS_PATTERN.match(prescriber.rpps):
        raise DomainError("rpps_invalid", "The prescriber's RPPS identifier is not 11 digits.",
                          fields={"rpps": ["11 digits."]})
    return prescriber


def _check_member(actor: Any, establishment: Establishment) -> None:
    """Nothing of another establishment is reachable (DOMAIN.md §5), even from code that skipped the selectors."""
    if not establishment.members.filter(pk=actor.pk).exists():
        raise DomainError("not_a_member", "You do not belong to this establishment.", status_code=403)


def _check_patient(patient: Patient) -> None:
    missing = _missing({"last_name": patient.last_name, "first_name": patient.first_name, "sex": patient.sex,
                        "birth_date": patient.birth_date, "address": patient.address})
    if missing:
        raise DomainError("patient_incomplete", "The patient's identity is incomplete.", fields=missing)


def prescription_issue(
    *,
    actor: Any,
    patient: Patient,
    secure_form_lot: str,
    declared_lines: int,
    issued_on: dt.date,
    duration_days: int,
    lines: Sequence[LineInput],
    fraction_days: int | None = None,
    overlap_authorized: bool = False,
) -> IssuedPrescription:
    """Issue a secure prescription; hepatotoxic alerts are returned, never blocking the prescriber."""
    prescriber = _check_prescriber(actor)
    _check_member(actor, patient.establishment)
    _check_patient(patient)
    if not (secure_form_lot or "").strip():
        raise InvalidInput("The secure form's lot identifier is required.",
                           fields={"secure_form_lot": ["This field is required."]}, code="secure_form_lot_required")
    if not lines:
        raise InvalidInput("A prescription has at least one line.", fields={"lines": ["At least one line."]})
    if declared_lines != len(lines):
        # R.5132-5: the number written in the square must match the lines, or lines were added.
        raise InvalidInput(
            f"The form declares {declared_lines} line(s) but {len(lines)} were entered (R.5132-5).",
            fields={"declared_lines": [f"{len(lines)} line(s) entered."]}, code="declared_lines_mismatch",
        )
    line_errors = {str(i): errors for i, line in enumerate(lines) if (errors := _line_errors(line))}
    if line_errors:
        raise InvalidInput("A line misses the values its kind needs.", fields={"lines": line_errors},
                           code="line_invalid")
    today = timezone.localdate()
    if issued_on > today:
        # The date is the one on the form: a transcription may be late, never ahead of time.
        raise InvalidInput("The prescription date cannot be in the future.", fields={"issued_on": ["In the future."]},
                           code="issued_on_in_future")
    max_days = min([int(_rules()["MAX_PRESCRIPTION_DAYS"]), *(line.product.max_prescription_days for line in lines)])
    if duration_days < 1:
        raise InvalidInput("The duration is at least one day.", fields={"duration_days": ["Must be >= 1."]})
    if duration_days > max_days:
        raise DomainError(
            "duration_exceeded",
            f"A ketamine prescription covers at most {max_days} days (R.5132-30); {duration_days} asked.",
            fields={"duration_days": [f"At most {max_days}."]}, extra={"max_days": max_days},
        )
    if fraction_days is not None and not 1 <= fraction_days <= duration_days:
        raise InvalidInput("The fraction length is between 1 day and the duration.",
                           fields={"fraction_days": ["Between 1 and duration_days."]}, code="fraction_invalid")
    ends_on = SecurePrescription.last_day(issued_on, duration_days)
    substances = {line.product.substance_id for line in lines}

    with transaction.atomic():
        # Lock the patient: two prescriptions issued at the same moment for the same period
        # would otherwise both pass the overlap check (R.5132-33).
        Patient.objects.select_for_update().get(pk=patient.pk)
        overlapping = list(
            SecurePrescription.objects.filter(
                patient=patient, prescriber=prescriber, status=SecurePrescription.Status.ISSUED,
                issued_on__lte=ends_on, ends_on__gte=issued_on, lines__product__substance_id__in=substances,
            ).values_list("pk", flat=True).distinct()
        )
        if overlapping and not overlap_authorized:
            raise DomainError(
                "prescription_overlap",
                "This period is already covered by your prescription(s) "
                f"{', '.join(map(str, overlapping))} for this patient and substance (R.5132-33); "
                "write overlap_authorized to prescribe expressly.",
                extra={"overlapping": overlapping},
            )
        line_words = [_line_words(line) for line in lines]
        dosage = "\n".join(
            f"{line.product.name} : {text}" for line, text in zip(lines, line_words, strict=True)
        ) + f"\n{words.duration_words(duration_days).capitalize()}"
        if fraction_days:
            dosage += f", délivrance fractionnée par périodes de {words.number_words(fraction_days)} jour(s)"
        prescription = SecurePrescription.objects.create(
            establishment=patient.establishment, prescriber=prescriber, patient=patient,
            secure_form_lot=secure_form_lot.strip(), declared_lines=declared_lines, issued_on=issued_on,
            duration_days=duration_days, ends_on=ends_on, fraction_days=fraction_days,
            overlap_authorized=overlap_authorized, dosage_words=dosage,
        )
        PrescriptionLine.objects.bulk_create([
            PrescriptionLine(
                prescription=prescription, product=line.product, kind=line.kind, dose_mg=line.dose_mg,
                doses_per_day=line.doses_per_day, rate_mg_per_h=line.rate_mg_per_h, hours_per_day=line.hours_per_day,
                words=text,
            )
            for line, text in zip(lines, line_words, strict=True)
        ])
        check = selectors.hepatotoxic_check(prescription)
        audit_record(
            action="prescriptions.prescription.issued", actor=actor, establishment=patient.establishment,
            obj=prescription,
            data={"patient": patient.pk, "duration_days": duration_days, "alerts": [a.code for a in check.alerts]},
        )
    return IssuedPrescription(prescription, check.alerts)


def prescription_cancel(*, actor: Any, prescription: SecurePrescription, reason: str) -> SecurePrescription:
    """Cancel: the prescription is kept (R.5132-35), its status says it can no longer be dispensed."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("A cancellation gives its reason.", fields={"reason": ["This field is required."]})
    with transaction.atomic():
        # Lock the prescription: a dispensation in progress finishes first, or sees the cancellation.
        locked = SecurePrescription.objects.select_for_update().get(pk=prescription.pk)
        if locked.prescriber.user_id != actor.pk:
            raise DomainError("not_your_prescription", "Only the prescriber who wrote it may cancel it.",
                              status_code=403)
        if locked.status == SecurePrescription.Status.CANCELLED:
            raise DomainError("prescription_cancelled", "This prescription is already cancelled.")
        locked.status = SecurePrescription.Status.CANCELLED
        locked.cancelled_at = timezone.now()
        locked.cancel_reason = reason
        locked.save(update_fields=["status", "cancelled_at", "cancel_reason"])
        audit_record(action="prescriptions.prescription.cancelled", actor=actor, establishment=locked.establishment,
                     obj=locked, data={"reason": reason})
    return locked


# --- dispensations ------------------------------------------------------------------------


def _product_daily_mg(prescription: SecurePrescription, product_id: int) -> Decimal:
    return sum((line.daily_mg for line in prescription.lines.all() if line.product_id == product_id), Decimal(0))


def _units(mg: Decimal, mg_per_unit: Decimal) -> int:
    return max(0, math.floor(mg / mg_per_unit))


def dispensation_quantity_check(prescription: SecurePrescription, lot: Lot, quantity: int, today: dt.date) -> Decimal:
    """R.5132-30, R.5132-33 and "nothing beyond what was prescribed"; returns the mg dispensed.

    Called under the prescription lock, so the dispensed totals it reads cannot change under it.
    """
    product = lot.product
    mg = product.mg_per_unit * quantity
    daily = _product_daily_mg(prescription, product.pk)
    prescribed = daily * prescription.duration_days
    already = selectors.dispensed_mg(prescription, product_id=product.pk)
    left = prescribed - already
    unit = product.unit_label

    days_after = (today - prescription.issued_on).days
    grace = int(_rules()["PRESENTATION_GRACE_DAYS"])
    if days_after > grace and not selectors.has_dispensation(prescription):
        # R.5132-33: presented more than 3 days after its date (the date itself not counted),
        # only the days left may be dispensed.
        remaining_days = prescription.duration_days - days_after
        allowed = min(left, daily * remaining_days)
        if mg > allowed:
            can = _units(allowed, product.mg_per_unit)
            raise DomainError(
                "presentation_late",
                f"Presented {days_after} days after its date, more than {grace} days (R.5132-33): only the "
                f"{remaining_days} remaining day(s) may be dispensed, i.e. {allowed} mg "
                f"({can} {unit}(s) of {product.mg_per_unit} mg); {quantity} asked ({mg} mg).",
                extra={"remaining_days": remaining_days, "dispensable_mg": str(allowed), "dispensable_quantity": can},
            )
    if prescription.fraction_days:
        cap = daily * prescription.fraction_days
        if mg > cap:
            can = _units(cap, product.mg_per_unit)
            raise DomainError(
                "fraction_exceeded",
                f"This prescription is split by {prescription.fraction_days} day(s) (R.5132-30): one dispensation "
                f"gives at most {cap} mg ({can} {unit}(s)); {quantity} asked ({mg} mg).",
                extra={"fraction_days": prescription.fraction_days, "dispensable_mg": str(cap),
                       "dispensable_quantity": can},
            )
    if mg > left:
        can = _units(left, product.mg_per_unit)
        raise DomainError(
            "prescription_exhausted",
            f"{prescribed} mg of {product.name} prescribed, {already} mg already dispensed: {left} mg left "
            f"({can} {unit}(s)); {quantity} asked ({mg} mg).",
            extra={"prescribed_mg": str(prescribed), "dispensed_mg": str(already), "dispensable_mg": str(left),
                   "dispensable_quantity": can},
        )
    return mg


def _frozen_names(prescription: SecurePrescription) -> dict[str, str]:
    prescriber, patient = prescription.prescriber, prescription.patient
    prescriber_name = f"{prescriber.full_name}, {prescriber.title}, RPPS {prescriber.rpps}"
    one_line = " ".join(patient.address.split())
    prescriber_address = " ".join(prescriber.address.split())
    return {
        "prescriber_name": prescriber_name[:200],
        "prescriber_address": prescriber_address[:500],
        "patient_name": f"{patient.full_name}, né(e) le {patient.birth_date:%d/%m/%Y}"[:200],
        "patient_address": one_line[:500],
        "counterparty": (
            f"Patient : {patient.full_name}, {one_line} — Prescripteur : {prescriber_name}, {prescriber_address}"
        )[:500],
    }


def dispensation_create(
    *,
    actor: Any,
    prescription: SecurePrescription,
    lot: Lot,
    quantity: int,
    override_justification: str = "",
    bearer_name: str = "",
    bearer_id: str = "",
) -> Dispensation:
    """Dispense against a secure prescription: one exit line of the register, in the same transaction.

    Blocking hepatotoxic alerts (DOMAIN.md §4) refuse with 409 ``hepatotoxic_risk`` unless a
    pharmacist gives a justification; the alerts and the override are kept on the dispensation.
    """
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidInput("The quantity is a whole number of units, greater than zero.", fields={"quantity": ["Must be > 0."]})
    justification = (override_justification or "").strip()
    if justification and not has_role(actor, Role.PHARMACIST):
        raise DomainError("override_forbidden", "Only a pharmacist may override a hepatotoxic alert.", status_code=403)
    bearer_name, bearer_id = (bearer_name or "").strip(), (bearer_id or "").strip()
    if bool(bearer_name) != bool(bearer_id):
        raise InvalidInput("A bearer who is not the patient gives a name and an identity document (R.5132-35).",
                           fields={"bearer": ["Name and ID both required."]})
    _check_member(actor, prescription.establishment)
    today = timezone.localdate()
    min_chars = int(_rules()["OVERRIDE_MIN_CHARS"])

    with transaction.atomic():
        # Lock order: patient, then prescription, then (inside movement_record) the register head.
        # The patient lock serialises this patient's dispensations, so the 24-hour total and the
        # exposure timeline cannot change between the check and the write. The prescription lock
        # makes "dispensed + this <= prescribed" hold: two pharmacists dispensing the last
        # ampoules at once would otherwise both read the same total and both pass.
        Patient.objects.select_for_update().get(pk=prescription.patient_id)
        prescription = (
            SecurePrescription.objects.select_for_update(of=("self",))
            .select_related("patient", "prescriber__user", "establishment")
            .get(pk=prescription.pk)
        )
        if prescription.status == SecurePrescription.Status.CANCELLED:
            raise DomainError("prescription_cancelled", "This prescription was cancelled: nothing can be dispensed.")
        if today > prescription.ends_on:
            raise DomainError(
                "prescription_expired",
                f"This prescription covered {prescription.issued_on.isoformat()} to {prescription.ends_on.isoformat()}: "
                "it has expired.",
            )
        if lot.establishment_id != prescription.establishment_id:
            raise DomainError("lot_establishment_mismatch", "The lot belongs to another establishment.")
        prescribed_products = {line.product_id: line.product for line in prescription.lines.all()}
        if lot.product_id not in prescribed_products:
            names = ", ".join(p.name for p in prescribed_products.values())
            # ANSM 2023: confusing 10 and 50 mg/mL presentations is a known, serious error.
            raise DomainError(
                "lot_product_mismatch",
                f"Lot {lot.batch_number} is {lot.product.name} "
                f"({lot.product.concentration_mg_per_ml:.0f} mg/mL); the prescription is for {names}.",
                fields={"lot": ["Not the prescribed product."]},
            )
        mg = dispensation_quantity_check(prescription, lot, quantity, today)
        racemic_mg = mg * lot.product.substance.racemic_factor
        now = timezone.now()
        check = selectors.hepatotoxic_check(prescription, dispensing_racemic_mg=racemic_mg, now=now)
        alerts = [alert.as_dict() for alert in check.alerts]
        overridden = False
        if check.blocking:
            if len(justification) < min_chars or not has_role(actor, Role.PHARMACIST):
                codes = ", ".join(alert.code for alert in check.blocking)
                raise DomainError(
                    "hepatotoxic_risk",
                    f"Hepatotoxic risk ({codes}): dispensation refused. A pharmacist may override with a written "
                    f"justification of at least {min_chars} characters (override_justification).",
                    extra={"alerts": alerts},
                )
            overridden = True
        frozen = _frozen_names(prescription)
        movement = movement_record(
            actor=actor,
            lot=lot,
            direction=Movement.Direction.EXIT,
            reason=Movement.Reason.DISPENSATION,
            quantity=quantity,
            occurred_at=now,
            note=f"Ordonnance sécurisée n° {prescription.pk}, lot de formulaire {prescription.secure_form_lot}",
            audit_data={"prescription": prescription.pk, "patient": prescription.patient_id},
            counterparty=frozen["counterparty"],
            prescriber_name=frozen["prescriber_name"],
            prescriber_address=frozen["prescriber_address"],
            patient_name=frozen["patient_name"],
            patient_address=frozen["patient_address"],
        )
        dispensation = Dispensation.objects.create(
            prescription=prescription, patient_id=prescription.patient_id, movement=movement, lot=lot,
            quantity=quantity, mg=mg, racemic_mg=racemic_mg, dispensed_at=now, dispensed_by=actor,
            bearer_name=bearer_name, bearer_id=bearer_id, alerts=alerts,
            override_justification=justification if overridden else "",
            overridden_by=actor if overridden else None,
        )
        audit_record(
            action="prescriptions.dispensation.created", actor=actor, establishment=prescription.establishment,
            obj=dispensation,
            data={"prescription": prescription.pk, "movement": movement.number, "quantity": quantity,
                  "alerts": [a["code"] for a in alerts]},
        )
        if overridden:
            audit_record(
                action="prescriptions.dispensation.overridden", actor=actor, establishment=prescription.establishment,
                obj=dispensation,
                data={"prescription": prescription.pk, "justification": justification, "alerts": alerts},
            )
    return dispensation
