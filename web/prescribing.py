"""The prescriber's pages: find or create a patient, issue a secure prescription, see the dose
in words as it will print and the alerts, the patient's exposure chart, cancel.

Thin views: access in ``@role_required``; reads through ``prescriptions.selectors`` (scoped to
the caller's establishments, and to the prescriber's own prescriptions); writes through
``prescriptions.services``, whose refusals are shown next to the field they concern.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from config.errors import DomainError
from config.permissions import Role
from prescriptions import selectors, services
from prescriptions.hepatotoxicity import Thresholds
from prescriptions.models import Patient, SecurePrescription
from web import charts
from web.access import current_establishment, role_required
from web.prescribing_forms import (
    PRESCRIPTION_FIELDS,
    PRESCRIPTION_WORDINGS,
    CancelForm,
    LineFormSet,
    PatientForm,
    PatientSearchForm,
    PrescriptionForm,
    alerts_for_display,
    line_errors,
    show_refusal,
)

PRESCRIBER = frozenset({Role.PRESCRIBER})
PDF_PATH = "/api/v1/prescriptions/{pk}/pdf"


def exposure_chart_of(daily: dict[dt.date, Decimal], *, width: int = 720) -> charts.ExposureChart:
    """The chart with the threshold of the rules (settings.KETAMINE_RULES["HIGH_DAILY_DOSE_MG"])."""
    return charts.exposure_chart(
        daily, limit=Thresholds.from_settings().high_daily_dose_mg, today=timezone.localdate(), width=width
    )


def patient_exposure_chart(patient: Patient) -> tuple[charts.ExposureChart, list[dict[str, str]]]:
    """The patient's exposure from the prescriptions' selector (what was dispensed), and its alerts."""
    exposure = selectors.patient_exposure(patient)
    daily = {dt.date.fromisoformat(row["day"]): Decimal(row["racemic_mg"]) for row in exposure["timeline"]}
    return exposure_chart_of(daily), exposure["alerts"]


@role_required(PRESCRIBER)
def patients(request: HttpRequest) -> HttpResponse:
    """Search the establishment's patients by name."""
    establishment = current_establishment(request)
    form = PatientSearchForm(request.GET or None)
    found = selectors.patients_for(request.user).filter(establishment=establishment)
    query = ""
    if form.is_valid() and form.cleaned_data["q"].strip():
        query = form.cleaned_data["q"].strip()
        for word in query.split():
            found = found.filter(Q(last_name__icontains=word) | Q(first_name__icontains=word))
    return render(
        request,
        "web/patients.html",
        {"establishment": establishment, "form": form, "patients": found[:50], "query": query},
    )


@role_required(PRESCRIBER)
@require_http_methods(["GET", "POST"])
def patient_create(request: HttpRequest) -> HttpResponse:
    establishment = current_establishment(request)
    form = PatientForm(request.POST or None, initial={"last_name": request.GET.get("last_name", "")})
    if request.method == "POST" and form.is_valid():
        try:
            patient = services.patient_create(actor=request.user, establishment=establishment, **form.cleaned_data)
        except DomainError as error:
            show_refusal(form, error, field_of_code={}, wordings={})
        else:
            messages.success(request, _("Patient %(name)s created.") % {"name": patient.full_name})
            return redirect("web:patient", pk=patient.pk)
    return render(request, "web/patient_form.html", {"establishment": establishment, "form": form})


@role_required(PRESCRIBER)
def patient(request: HttpRequest, pk: int) -> HttpResponse:
    """A patient: identity, exposure chart with the 100 mg line, and my prescriptions for them."""
    found = get_object_or_404(selectors.patients_for(request.user).select_related("establishment"), pk=pk)
    chart: charts.ExposureChart | None = None
    alerts: list[dict[str, str]] = []
    # The exposure is shown as in the API: to a prescriber, for their own patients only.
    if selectors.exposure_patients_for(request.user).filter(pk=found.pk).exists():
        chart, alerts = patient_exposure_chart(found)
        alerts = alerts_for_display(alerts)
    prescriptions = selectors.prescriptions_for(request.user).filter(patient=found)
    return render(
        request,
        "web/patient.html",
        {"establishment": found.establishment, "patient": found, "chart": chart, "alerts": alerts,
         "prescriptions": prescriptions, "today": timezone.localdate()},
    )


@role_required(PRESCRIBER)
@require_http_methods(["GET", "POST"])
def prescription_new(request: HttpRequest, pk: int) -> HttpResponse:
    """Issue a secure prescription; the browser checks the 28 days and the lines count as one
    types, the service checks every rule again on submit."""
    found = get_object_or_404(selectors.patients_for(request.user).select_related("establishment"), pk=pk)
    form = PrescriptionForm(request.POST or None, initial={"declared_lines": 1})
    lines = LineFormSet(request.POST or None, prefix="lines")
    if request.method == "POST" and form.is_valid() and lines.is_valid():
        data = form.cleaned_data
        try:
            issued = services.prescription_issue(
                actor=request.user,
                patient=found,
                secure_form_lot=data["secure_form_lot"],
                declared_lines=data["declared_lines"],
                issued_on=data["issued_on"],
                duration_days=data["duration_days"],
                fraction_days=data["fraction_days"],
                overlap_authorized=data["overlap_authorized"],
                lines=[services.LineInput(**line) for line in lines.cleaned_data if line],
            )
        except DomainError as error:
            if not line_errors(lines, error):
                show_refusal(form, error, field_of_code=PRESCRIPTION_FIELDS, wordings=PRESCRIPTION_WORDINGS)
        else:
            messages.success(
                request, _("Prescription no. %(number)s issued. Print it, sign it, and give it to the patient.")
                % {"number": issued.prescription.pk},
            )
            return redirect("web:prescription", pk=issued.prescription.pk)
    return render(
        request,
        "web/prescription_form.html",
        {"establishment": found.establishment, "patient": found, "form": form, "lines": lines},
    )


@role_required(PRESCRIBER)
def prescriptions(request: HttpRequest) -> HttpResponse:
    """My prescriptions in this establishment, newest first."""
    establishment = current_establishment(request)
    mine = selectors.prescriptions_for(request.user).filter(establishment=establishment)[:100]
    return render(
        request,
        "web/prescriptions.html",
        {"establishment": establishment, "prescriptions": mine, "today": timezone.localdate()},
    )


def _prescription_page(request: HttpRequest, prescription: SecurePrescription, cancel_form: CancelForm) -> HttpResponse:
    # The alerts the service returned at issue, computed again by the same selector (a read):
    # they also take into account what was dispensed since.
    check = selectors.hepatotoxic_check(prescription)
    return render(
        request,
        "web/prescription.html",
        {
            "establishment": prescription.establishment,
            "prescription": prescription,
            "alerts": alerts_for_display([alert.as_dict() for alert in check.alerts]),
            "chart": exposure_chart_of(check.timeline.daily_mg),
            "dispensations": selectors.dispensations_of(prescription),
            "pdf_url": PDF_PATH.format(pk=prescription.pk),
            "cancel_form": cancel_form if prescription.status == SecurePrescription.Status.ISSUED else None,
            "today": timezone.localdate(),
        },
    )


@role_required(PRESCRIBER)
def prescription(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(selectors.prescriptions_for(request.user), pk=pk)
    return _prescription_page(request, found, CancelForm())


@role_required(PRESCRIBER)
@require_http_methods(["POST"])
def prescription_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    found = get_object_or_404(selectors.prescriptions_for(request.user), pk=pk)
    form = CancelForm(request.POST)
    if form.is_valid():
        try:
            services.prescription_cancel(actor=request.user, prescription=found, reason=form.cleaned_data["reason"])
        except DomainError as error:
            show_refusal(form, error, field_of_code={}, wordings={})
        else:
            messages.success(request, _("Prescription no. %(number)s cancelled.") % {"number": found.pk})
            return redirect("web:prescriptions")
    return _prescription_page(request, found, form)


