"""The prescriber's and the pharmacy's prescription pages through Django's test client."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from operations import services as op_services
from prescriptions import services
from prescriptions.models import Dispensation, Patient, SecurePrescription
from register.models import Location, Lot, Movement, Product, StockBalance

K50 = "Kétamine 50 mg/5 mL, solution injectable"
K250 = "Kétamine 250 mg/5 mL, solution injectable"


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_patient(demo: Any, actor: Any, *, hepatic: bool = False, last_name: str = "Martin") -> Patient:
    return services.patient_create(
        actor=actor, establishment=demo["DEMO"], last_name=last_name, first_name="Louise", sex="F",
        birth_date=dt.date(1962, 3, 4), address="3 rue Lepic\n75018 Paris", weight_kg=Decimal("70"),
        hepatic_impairment=hepatic,
    )


def issue(actor: Any, patient: Patient, *, dose: int = 50, times: int = 1, days: int = 7) -> SecurePrescription:
    line = services.LineInput(product=Product.objects.get(name=K50), kind="bolus", dose_mg=Decimal(dose),
                              doses_per_day=times)
    return services.prescription_issue(
        actor=actor, patient=patient, secure_form_lot="SF-26-0042", declared_lines=1, issued_on=timezone.localdate(),
        duration_days=days, lines=[line],
    ).prescription


def rx_post(patient: Patient, **overrides: Any) -> dict[str, Any]:
    data = {
        "secure_form_lot": "SF-26-0099", "declared_lines": "1", "issued_on": timezone.localdate().isoformat(),
        "duration_days": "7", "fraction_days": "", "lines-TOTAL_FORMS": "1", "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "1", "lines-MAX_NUM_FORMS": "20",
        "lines-0-product": str(Product.objects.get(name=K50).pk), "lines-0-kind": "bolus",
        "lines-0-dose_mg": "50", "lines-0-doses_per_day": "2",
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("persona", "path", "status"),
    [
        ("prescriber", "/patients/", 200),
        ("prescriber", "/patients/new/", 200),
        ("prescriber", "/prescriptions/", 200),
        ("prescriber", "/dispensing/", 403),
        ("prescriber", "/transfers/", 403),
        ("technician", "/patients/", 403),
        ("technician", "/prescriptions/", 403),
        ("technician", "/dispensing/", 200),
        ("technician", "/transfers/", 200),
        ("pharmacist", "/dispensing/", 200),
        ("inspector", "/dispensing/", 403),
        ("inspector", "/patients/", 403),
        ("nurse", "/dispensing/", 403),
        ("nurse", "/ward/administration/", 200),
        ("technician", "/ward/administration/", 403),
    ],
)
def test_permission_matrix_of_prescription_pages(demo: Any, persona: str, path: str, status: int) -> None:
    """Prescriber pages for prescribers, dispensing and transfers for the pharmacy, administration for nurses."""
    from django.contrib.auth import get_user_model

    assert client_of(get_user_model().objects.get(username=persona)).get(path).status_code == status


def test_anonymous_is_sent_to_login_from_prescription_pages(db: Any) -> None:
    """The new pages send an anonymous visitor to the login page."""
    for path in ["/patients/", "/prescriptions/", "/dispensing/", "/transfers/", "/ward/administration/"]:
        response = Client().get(path)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_home_sends_prescriber_to_patients_and_nurse_to_administration(prescriber: Any, nurse: Any) -> None:
    """Each role lands on its main page."""
    assert client_of(prescriber).get("/")["Location"] == "/patients/"
    assert client_of(nurse).get("/")["Location"] == "/ward/administration/"


def test_navigation_by_role(prescriber: Any, technician: Any) -> None:
    """A prescriber sees Patients and Prescriptions; the pharmacy sees To dispense and Transfers."""
    nav = client_of(prescriber).get("/patients/").content.decode()
    assert 'href="/patients/"' in nav and 'href="/prescriptions/"' in nav and 'href="/dispensing/"' not in nav
    nav = client_of(technician).get("/stock/").content.decode()
    assert 'href="/dispensing/"' in nav and 'href="/transfers/"' in nav and 'href="/patients/"' not in nav


def test_patient_search_by_name_within_the_establishment(demo: Any, prescriber: Any, outsider: Any) -> None:
    """The search finds patients of the establishment by name, not another establishment's."""
    make_patient(demo, prescriber, last_name="Martin")
    make_patient(demo, prescriber, last_name="Bernard")
    services.patient_create(
        actor=outsider, establishment=demo["OTHER"], last_name="Martinez", first_name="Paul", sex="M",
        birth_date=dt.date(1980, 1, 1), address="Lyon",
    )
    page = client_of(prescriber).get("/patients/", {"q": "mart"}).content.decode()
    assert "MARTIN Louise" in page and "BERNARD" not in page and "MARTINEZ" not in page


def test_patient_create_through_the_service(demo: Any, prescriber: Any) -> None:
    """The form creates the patient (audited) and leads to the patient's page."""
    response = client_of(prescriber).post("/patients/new/", {
        "last_name": "Petit", "first_name": "Anne", "sex": "F", "birth_date": "1990-02-03",
        "address": "1 rue de Paris", "weight_kg": "55.5", "hepatic_impairment": "on",
    })
    patient = Patient.objects.get(last_name="Petit")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    assert patient.hepatic_impairment and patient.weight_kg == Decimal("55.5")
    assert AuditEvent.objects.filter(action="prescriptions.patient.created").exists()


def test_patient_create_refuses_a_birth_date_in_the_future(demo: Any, prescriber: Any) -> None:
    """The service's refusal shows next to the birth date, nothing is created."""
    future = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    response = client_of(prescriber).post("/patients/new/", {
        "last_name": "Petit", "first_name": "Anne", "sex": "F", "birth_date": future, "address": "1 rue de Paris",
    })
    assert response.status_code == 200
    assert response.context["form"].errors["birth_date"]
    assert not Patient.objects.filter(last_name="Petit").exists()


def test_issue_shows_the_dose_in_words_and_the_pdf_link(demo: Any, prescriber: Any) -> None:
    """Issuing leads to the prescription with its words as printed and the link to its PDF."""
    patient = make_patient(demo, prescriber)
    client = client_of(prescriber)
    response = client.post(f"/patients/{patient.pk}/prescribe/", rx_post(patient))
    prescription = SecurePrescription.objects.get(patient=patient)
    assert response["Location"] == f"/prescriptions/{prescription.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "cinquante milligrammes, deux fois par jour" in page
    assert f"/api/v1/prescriptions/{prescription.pk}/pdf" in page
    assert 'data-code="HEPATO_HIGH_DAILY_DOSE"' not in page
    assert client.get(f"/api/v1/prescriptions/{prescription.pk}/pdf")["Content-Type"] == "application/pdf"


def test_issue_shows_the_alerts_returned(demo: Any, prescriber: Any) -> None:
    """A prescription above 100 mg/day for an impaired patient shows its warning and blocking alerts."""
    patient = make_patient(demo, prescriber, hepatic=True)
    client = client_of(prescriber)
    response = client.post(f"/patients/{patient.pk}/prescribe/", rx_post(patient, **{"lines-0-dose_mg": "60"}))
    page = client.get(response["Location"]).content.decode()
    assert 'data-code="HEPATO_HIGH_DAILY_DOSE"' in page and 'data-code="HEPATO_IMPAIRED_PATIENT"' in page
    assert 'class="over"' in page  # the chart's bars above the 100 mg line


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"duration_days": "29"}, "duration_days", "28"),
        ({"declared_lines": "2"}, "declared_lines", "R.5132-5"),
        ({"issued_on": "2099-01-01"}, "issued_on", ""),
        ({"lines-0-kind": "infusion"}, None, ""),
    ],
)
def test_issue_refusals_show_next_to_the_field(
    demo: Any, prescriber: Any, overrides: dict[str, str], field: str | None, text: str
) -> None:
    """The service's refusals (28 days, lines count, date, line values) show on the form; nothing is written."""
    patient = make_patient(demo, prescriber)
    response = client_of(prescriber).post(f"/patients/{patient.pk}/prescribe/", rx_post(patient, **overrides))
    assert response.status_code == 200
    if field:
        assert text in " ".join(response.context["form"].errors[field])
    else:
        line = response.context["lines"].forms[0]
        assert line.errors["rate_mg_per_h"] and line.errors["hours_per_day"]
    assert not SecurePrescription.objects.filter(patient=patient).exists()


def test_issue_overlap_asks_for_the_express_authorisation(demo: Any, prescriber: Any) -> None:
    """A second prescription over the same period is refused next to the overlap box, then accepted with it."""
    patient = make_patient(demo, prescriber)
    first = issue(prescriber, patient)
    client = client_of(prescriber)
    response = client.post(f"/patients/{patient.pk}/prescribe/", rx_post(patient))
    assert str(first.pk) in response.context["form"].errors["overlap_authorized"][0]
    response = client.post(f"/patients/{patient.pk}/prescribe/", rx_post(patient, overlap_authorized="on"))
    assert response.status_code == 302
    assert SecurePrescription.objects.filter(patient=patient).count() == 2


def test_issue_with_two_lines(demo: Any, prescriber: Any) -> None:
    """Two lines (bolus and infusion) with two declared are issued together."""
    patient = make_patient(demo, prescriber)
    data = rx_post(patient, **{
        "declared_lines": "2", "lines-TOTAL_FORMS": "2", "lines-1-product": str(Product.objects.get(name=K250).pk),
        "lines-1-kind": "infusion", "lines-1-rate_mg_per_h": "2", "lines-1-hours_per_day": "12",
        "lines-1-dose_mg": "99",  # left over in a hidden field: not sent to the service
    })
    assert client_of(prescriber).post(f"/patients/{patient.pk}/prescribe/", data).status_code == 302
    assert SecurePrescription.objects.get(patient=patient).lines.count() == 2


def test_prescriptions_list_shows_only_mine_and_cancel(demo: Any, prescriber: Any) -> None:
    """The list shows the prescriber's prescriptions; cancelling needs a reason and keeps the prescription."""
    patient = make_patient(demo, prescriber)
    prescription = issue(prescriber, patient)
    client = client_of(prescriber)
    assert f'data-prescription="{prescription.pk}"' in client.get("/prescriptions/").content.decode()
    response = client.post(f"/prescriptions/{prescription.pk}/cancel/", {"reason": ""})
    assert response.status_code == 200 and response.context["cancel_form"].errors["reason"]
    response = client.post(f"/prescriptions/{prescription.pk}/cancel/", {"reason": "Erreur de posologie"})
    assert response.status_code == 302
    prescription.refresh_from_db()
    assert prescription.status == SecurePrescription.Status.CANCELLED


def test_other_establishment_prescription_answers_404(demo: Any, prescriber: Any, outsider: Any) -> None:
    """Another establishment's patient or prescription is not found."""
    other = services.patient_create(
        actor=outsider, establishment=demo["OTHER"], last_name="Autre", first_name="Paul", sex="M",
        birth_date=dt.date(1980, 1, 1), address="Lyon",
    )
    client = client_of(prescriber)
    assert client.get(f"/patients/{other.pk}/").status_code == 404
    assert client.get(f"/patients/{other.pk}/prescribe/").status_code == 404


def test_patient_page_shows_the_exposure_chart_with_the_limit(demo: Any, prescriber: Any, pharmacist: Any) -> None:
    """After a dispensation above 100 mg/day the patient's chart has red bars and the 100 mg line."""
    patient = make_patient(demo, prescriber)
    prescription = issue(prescriber, patient, dose=60, times=2, days=3)
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401")
    services.dispensation_create(actor=pharmacist, prescription=prescription, lot=lot, quantity=2)
    page = client_of(prescriber).get(f"/patients/{patient.pk}/").content.decode()
    assert 'data-testid="exposure-chart"' in page and 'data-testid="limit-line"' in page
    assert 'class="over"' in page and "100 mg" in page


def test_waiting_lists_only_dispensable_prescriptions(demo: Any, prescriber: Any, technician: Any) -> None:
    """Issued and current prescriptions with something left are listed; cancelled and exhausted ones are not."""
    patient = make_patient(demo, prescriber)
    waiting = issue(prescriber, patient)
    cancelled = issue(prescriber, make_patient(demo, prescriber, last_name="Durand"))
    services.prescription_cancel(actor=prescriber, prescription=cancelled, reason="Erreur")
    exhausted = issue(prescriber, make_patient(demo, prescriber, last_name="Roux"), days=1)
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401")
    services.dispensation_create(actor=technician, prescription=exhausted, lot=lot, quantity=1)
    page = client_of(technician).get("/dispensing/").content.decode()
    assert f'data-prescription="{waiting.pk}"' in page
    assert f'data-prescription="{cancelled.pk}"' not in page and f'data-prescription="{exhausted.pk}"' not in page


def test_dispense_screen_shows_the_prescription_and_limits_lots(demo: Any, prescriber: Any, technician: Any) -> None:
    """The screen shows words, what remains, the chart and only lots of the prescribed product."""
    prescription = issue(prescriber, make_patient(demo, prescriber))
    response = client_of(technician).get(f"/dispensing/{prescription.pk}/")
    page = response.content.decode()
    assert "cinquante milligrammes, une fois par jour" in page and 'data-testid="exposure-chart"' in page
    lots = list(response.context["form"].fields["lot"].queryset)
    assert [lot.batch_number for lot in lots] == ["K50-2401"]
    assert response.context["form"].initial["quantity"] == 7
    assert "override_justification" not in response.context["form"].fields


def test_dispense_remaining_follows_the_three_day_rule(demo: Any, prescriber: Any, technician: Any) -> None:
    """Presented 5 days after its date, only the remaining days may be dispensed (R.5132-33)."""
    patient = make_patient(demo, prescriber)
    line = services.LineInput(product=Product.objects.get(name=K50), kind="bolus", dose_mg=Decimal(50), doses_per_day=1)
    prescription = services.prescription_issue(
        actor=prescriber, patient=patient, secure_form_lot="SF-1", declared_lines=1,
        issued_on=timezone.localdate() - dt.timedelta(days=5), duration_days=7, lines=[line],
    ).prescription
    response = client_of(technician).get(f"/dispensing/{prescription.pk}/")
    (left,) = response.context["remaining"]
    assert left.units == 2 and left.reason == "presentation_late"
    response = client_of(technician).post(f"/dispensing/{prescription.pk}/", {
        "lot": str(Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401").pk), "quantity": "3",
    })
    assert "R.5132-33" in response.context["form"].errors["quantity"][0]
    assert not Dispensation.objects.exists()


def test_technician_dispenses_through_the_service(demo: Any, prescriber: Any, technician: Any) -> None:
    """Confirming writes the dispensation and its register line, then shows the line."""
    prescription = issue(prescriber, make_patient(demo, prescriber))
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401")
    response = client_of(technician).post(f"/dispensing/{prescription.pk}/", {
        "lot": str(lot.pk), "quantity": "7", "bearer_name": "Paul Martin", "bearer_id": "CNI 123456",
    })
    dispensation = Dispensation.objects.get(prescription=prescription)
    assert response["Location"] == f"/register/{dispensation.movement.pk}/"
    assert dispensation.bearer_name == "Paul Martin"
    assert dispensation.movement.reason == Movement.Reason.DISPENSATION
    assert StockBalance.objects.get(lot=lot, location__code="VAULT").on_hand == 33


def test_dispense_bearer_needs_name_and_document(demo: Any, prescriber: Any, technician: Any) -> None:
    """A bearer's name without an identity document is refused next to the field."""
    prescription = issue(prescriber, make_patient(demo, prescriber))
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401")
    response = client_of(technician).post(f"/dispensing/{prescription.pk}/", {
        "lot": str(lot.pk), "quantity": "1", "bearer_name": "Paul Martin",
    })
    assert response.context["form"].errors["bearer_id"]
    assert not Dispensation.objects.exists()


def test_blocking_alert_technician_sees_a_pharmacist_must_decide(demo: Any, prescriber: Any, technician: Any) -> None:
    """Before confirming, the technician sees the blocking alert and no override box; a POST is refused."""
    prescription = issue(prescriber, make_patient(demo, prescriber, hepatic=True), dose=60, times=2, days=3)
    client = client_of(technician)
    page = client.get(f"/dispensing/{prescription.pk}/").content.decode()
    assert 'data-code="HEPATO_IMPAIRED_PATIENT"' in page and 'data-testid="pharmacist-must-decide"' in page
    assert 'data-testid="override-box"' not in page
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401")
    response = client.post(f"/dispensing/{prescription.pk}/", {
        "lot": str(lot.pk), "quantity": "2", "override_justification": "x" * 40,
    })
    assert response.status_code == 200
    assert "pharmacien" in " ".join(response.context["form"].non_field_errors())
    assert not Dispensation.objects.exists()


def test_pharmacist_overrides_a_blocking_alert_with_a_justification(demo: Any, prescriber: Any, pharmacist: Any) -> None:
    """Without a justification the pharmacist is refused; with one, the dispensation is recorded and audited."""
    prescription = issue(prescriber, make_patient(demo, prescriber, hepatic=True), dose=60, times=2, days=3)
    client = client_of(pharmacist)
    assert 'data-testid="override-box"' in client.get(f"/dispensing/{prescription.pk}/").content.decode()
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401")
    response = client.post(f"/dispensing/{prescription.pk}/", {"lot": str(lot.pk), "quantity": "2"})
    assert response.status_code == 200 and response.context["form"].errors["override_justification"]
    assert not Dispensation.objects.exists()
    justification = "Douleur réfractaire, bilan hépatique normal le 20/11, contrôle prévu J+3."
    response = client.post(f"/dispensing/{prescription.pk}/", {
        "lot": str(lot.pk), "quantity": "2", "override_justification": justification,
    })
    assert response.status_code == 302
    dispensation = Dispensation.objects.get(prescription=prescription)
    assert dispensation.overridden_by == pharmacist and dispensation.override_justification == justification
    assert AuditEvent.objects.filter(action="prescriptions.dispensation.overridden").exists()


def test_dispense_other_establishment_answers_404(demo: Any, outsider: Any, technician: Any) -> None:
    """Another establishment's prescription is not found on the dispensing screen."""
    from prescriptions.models import Prescriber

    Prescriber.objects.create(user=outsider, title="Médecin", rpps="10009999999", address="Lyon")
    other = services.patient_create(
        actor=outsider, establishment=demo["OTHER"], last_name="Autre", first_name="Paul", sex="M",
        birth_date=dt.date(1980, 1, 1), address="Lyon",
    )
    prescription = issue(outsider, other)
    assert client_of(technician).get(f"/dispensing/{prescription.pk}/").status_code == 404


def test_transfer_to_a_ward_and_back(demo: Any, technician: Any) -> None:
    """A refill writes two paired lines; the return brings units back; too many is refused next to quantity."""
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401")
    ward = Location.objects.get(establishment=demo["DEMO"], code="REA")
    client = client_of(technician)
    response = client.post("/transfers/", {"direction": "to_ward", "ward": str(ward.pk), "lot": str(lot.pk),
                                           "quantity": "5"})
    assert response.status_code == 302
    assert StockBalance.objects.get(lot=lot, location=ward).on_hand == 5
    response = client.post("/transfers/", {"direction": "to_vault", "ward": str(ward.pk), "lot": str(lot.pk),
                                           "quantity": "9"})
    assert response.status_code == 200 and response.context["form"].errors["quantity"]
    response = client.post("/transfers/", {"direction": "to_vault", "ward": str(ward.pk), "lot": str(lot.pk),
                                           "quantity": "2"})
    assert response.status_code == 302
    assert StockBalance.objects.get(lot=lot, location=ward).on_hand == 3
    assert StockBalance.objects.get(lot=lot, location__code="VAULT").on_hand == 37


def test_nurse_records_an_administration_from_her_ward(demo: Any, nurse: Any, pharmacist: Any) -> None:
    """A nurse assigned to a ward records an administration from its stock."""
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401")
    ward = Location.objects.get(establishment=demo["DEMO"], code="REA")
    vault = Location.objects.get(establishment=demo["DEMO"], code="VAULT")
    op_services.transfer_create(actor=pharmacist, lot=lot, source=vault, destination=ward, quantity=4)
    client = client_of(nurse)
    assert client.get("/ward/administration/").context["has_wards"] is False
    op_services.nurse_ward_assign(actor=pharmacist, nurse=nurse, ward=ward)
    response = client.post("/ward/administration/", {"ward": str(ward.pk), "lot": str(lot.pk), "quantity": "1",
                                                     "patient_name": "MARTIN Louise"})
    assert response.status_code == 302
    line = Movement.objects.get(reason=Movement.Reason.ADMINISTRATION)
    assert line.location == ward and line.patient_name == "MARTIN Louise"
    assert StockBalance.objects.get(lot=lot, location=ward).on_hand == 3


def test_dispense_preview_recomputes_alerts_without_writing(demo: Any, prescriber: Any, technician: Any) -> None:
    """The recompute button shows the 24-hour alert for the typed quantity and records nothing."""
    prescription = issue(prescriber, make_patient(demo, prescriber))
    lot = Lot.objects.get(establishment=demo["DEMO"], batch_number="K50-2401")
    client = client_of(technician)
    response = client.post(f"/dispensing/{prescription.pk}/", {"lot": str(lot.pk), "quantity": "1", "preview": "1"})
    assert 'data-code="HEPATO_DISPENSED_24H"' not in response.content.decode()
    response = client.post(f"/dispensing/{prescription.pk}/", {"lot": str(lot.pk), "quantity": "3", "preview": "1"})
    assert response.status_code == 200 and 'data-code="HEPATO_DISPENSED_24H"' in response.content.decode()
    assert response.context["form"].initial["quantity"] == "3" and not response.context["form"].is_bound
    assert not Dispensation.objects.exists() and not Movement.objects.filter(reason="dispensation").exists()


def test_prescriber_without_identity_is_told_at_the_top(demo: Any, prescriber: Any) -> None:
    """A prescriber with no RPPS and address on file sees why nothing was issued, above the form."""
    from django.contrib.auth.models import Group

    from prescriptions.models import Prescriber

    user = get_user_model().objects.create_user(username="locum", password="x", first_name="Léa", last_name="Roy")
    user.groups.add(Group.objects.get(name="prescriber"))
    demo["DEMO"].members.add(user)
    assert not Prescriber.objects.filter(user=user).exists()
    patient = make_patient(demo, prescriber)
    response = client_of(user).post(f"/patients/{patient.pk}/prescribe/", rx_post(patient))
    assert "RPPS" in response.context["form"].non_field_errors()[0]
    assert not SecurePrescription.objects.filter(patient=patient).exists()
