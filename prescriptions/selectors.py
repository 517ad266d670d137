"""Reads of prescriptions, always scoped to the caller's establishments (and, for a prescriber,
to their own prescriptions); the exposure timeline the hepatotoxic rules read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet, Sum
from django.utils import timezone

from config.permissions import Role, has_role
from prescriptions import hepatotoxicity as hepato
from prescriptions.models import Dispensation, Patient, PrescriptionLine, SecurePrescription
from register.selectors import establishments_for


def _prescriber_only(user: Any) -> bool:
    """A prescriber without a pharmacy role sees only their own prescriptions (DOMAIN.md §5)."""
    return has_role(user, Role.PRESCRIBER) and not has_role(user, Role.PHARMACIST, Role.TECHNICIAN)


def patients_for(user: Any) -> QuerySet[Patient]:
    return Patient.objects.filter(establishment__in=establishments_for(user))


def exposure_patients_for(user: Any) -> QuerySet[Patient]:
    """Patients whose exposure the user may see: a prescriber, only their own patients."""
    patients = patients_for(user)
    if _prescriber_only(user):
        patients = patients.filter(Q(created_by=user) | Q(prescriptions__prescriber__user=user)).distinct()
    return patients


def prescriptions_for(user: Any) -> QuerySet[SecurePrescription]:
    queryset = SecurePrescription.objects.filter(establishment__in=establishments_for(user))
    if _prescriber_only(user):
        queryset = queryset.filter(prescriber__user=user)
    return queryset.select_related("patient", "prescriber__user", "establishment").prefetch_related(
        _lines_with_substance()
    )


def dispensations_of(prescription: SecurePrescription) -> QuerySet[Dispensation]:
    return prescription.dispensations.select_related("movement", "lot")


def _not_reversed() -> Q:
    # A dispensation whose register line was reversed (a correction line points at it) no
    # longer counts: the units went back to stock.
    return Q(movement__reversed_by__isnull=True)


def dispensed_mg(prescription: SecurePrescription, *, product_id: int | None = None) -> Decimal:
    queryset = Dispensation.objects.filter(_not_reversed(), prescription=prescription)
    if product_id is not None:
        queryset = queryset.filter(lot__product_id=product_id)
    return queryset.aggregate(total=Sum("mg"))["total"] or Decimal(0)


def has_dispensation(prescription: SecurePrescription) -> bool:
    return Dispensation.objects.filter(_not_reversed(), prescription=prescription).exists()


def dispensed_racemic_mg_since(patient: Patient, since: dt.datetime) -> Decimal:
    """Racemic-equivalent mg dispensed to the patient since ``since`` (index patient, dispensed_at)."""
    total = Dispensation.objects.filter(_not_reversed(), patient=patient, dispensed_at__gt=since).aggregate(
        total=Sum("racemic_mg")
    )["total"]
    return total or Decimal(0)


def prescription_plan(prescription: SecurePrescription) -> hepato.Plan:
    """The prescription in racemic-equivalent mg (esketamine counts double)."""
    daily = Decimal(0)
    infusions = []
    for line in prescription.lines.all():
        factor = Decimal(line.product.substance.racemic_factor)
        daily += line.daily_mg * factor
        if line.kind == PrescriptionLine.Kind.INFUSION:
            infusions.append(hepato.Infusion(Decimal(line.rate_mg_per_h or 0) * factor, Decimal(line.hours_per_day or 0)))
    return hepato.Plan(prescription.issued_on, prescription.ends_on, daily, tuple(infusions))


def _lines_with_substance() -> Prefetch:
    return Prefetch("lines", queryset=PrescriptionLine.objects.select_related("product__substance"))


def exposure_plans(
    patient: Patient, *, window_start: dt.date, window_end: dt.date, include: SecurePrescription | None = None
) -> dict[int, hepato.Plan]:
    """Plans of the patient's prescriptions that overlap the window and count for the rules:
    dispensed at least once (not reversed), plus ``include`` (the one being checked).

    An indexed window (patient, ends_on, issued_on), not a scan of the patient's whole history:
    the cost stays flat after years of daily treatment.
    """
    dispensed = Dispensation.objects.filter(_not_reversed(), prescription=OuterRef("pk"))
    counted = Q(Exists(dispensed))
    if include is not None:
        counted |= Q(pk=include.pk)
    prescriptions = (
        SecurePrescription.objects.filter(
            patient=patient,
            status=SecurePrescription.Status.ISSUED,
            ends_on__gte=window_start,
            issued_on__lte=window_end,
        )
        .filter(counted)
        .prefetch_related(_lines_with_substance())
    )
    return {prescription.pk: prescription_plan(prescription) for prescription in prescriptions}


@dataclass
class HepatoCheck:
    alerts: list[hepato.Alert]
    timeline: hepato.Timeline

    @property
    def blocking(self) -> list[hepato.Alert]:
        return [alert for alert in self.alerts if alert.blocking]


def hepatotoxic_check(
    prescription: SecurePrescription, *, dispensing_racemic_mg: Decimal | None = None, now: dt.datetime | None = None
) -> HepatoCheck:
    """DOMAIN.md §4 for ``prescription`` (at issue, or at a dispensation of ``dispensing_racemic_mg``)."""
    thresholds = hepato.Thresholds.from_settings()
    lookback = dt.timedelta(days=thresholds.prolonged_window_days)
    plans = exposure_plans(
        prescription.patient,
        window_start=prescription.issued_on - lookback,
        window_end=prescription.ends_on,
        include=prescription,
    )
    timeline = hepato.build_timeline(plans.values(), thresholds)
    checked = plans.get(prescription.pk) or prescription_plan(prescription)
    dispensed_24h = None
    if dispensing_racemic_mg is not None:
        now = now or timezone.now()
        dispensed_24h = dispensed_racemic_mg_since(prescription.patient, now - dt.timedelta(hours=24)) + dispensing_racemic_mg
    alerts = hepato.evaluate(
        hepatic_impairment=prescription.patient.hepatic_impairment,
        timeline=timeline,
        checked_daily_mg=checked.daily_mg,
        checked_infusions=checked.infusions,
        focus=(prescription.issued_on, prescription.ends_on),
        dispensed_24h_mg=dispensed_24h,
        thresholds=thresholds,
    )
    return HepatoCheck(alerts, timeline)


def patient_exposure(patient: Patient, *, today: dt.date | None = None) -> dict[str, Any]:
    """The day-by-day racemic-equivalent timeline around today and the alerts active on it."""
    thresholds = hepato.Thresholds.from_settings()
    today = today or timezone.localdate()
    window_start = today - dt.timedelta(days=thresholds.prolonged_window_days - 1)
    window_end = today + dt.timedelta(days=thresholds.prolonged_window_days)
    plans = exposure_plans(patient, window_start=window_start, window_end=window_end)
    timeline = hepato.build_timeline(plans.values(), thresholds)
    timeline.daily_mg = {day: mg for day, mg in timeline.daily_mg.items() if window_start <= day <= window_end}
    timeline.burn_sessions = [s for s in timeline.burn_sessions if window_start <= s.day <= window_end]
    alerts = hepato.evaluate(
        hepatic_impairment=patient.hepatic_impairment,
        timeline=timeline,
        dispensed_24h_mg=dispensed_racemic_mg_since(patient, timezone.now() - dt.timedelta(hours=24)),
        thresholds=thresholds,
    )
    return {
        "patient": patient.pk,
        "from": window_start.isoformat(),
        "to": window_end.isoformat(),
        "high_daily_dose_mg": hepato.fmt(thresholds.high_daily_dose_mg),
        "timeline": timeline.as_list(),
        "burn_sessions": [
            {"day": s.day.isoformat(), "rate_mg_per_h": hepato.fmt(s.rate_mg_per_h), "hours": hepato.fmt(s.hours)}
            for s in timeline.burn_sessions
        ],
        "alerts": [alert.as_dict() for alert in alerts],
    }
