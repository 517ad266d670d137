"""Browser journeys of the prescription pages (same headless Chromium launcher as test_browser):
a prescriber issues a prescription and reads the dose in words; a technician dispenses it; a
pharmacist overrides a blocking hepatotoxic alert with a justification."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from prescriptions import services
from prescriptions.models import Dispensation, Patient, SecurePrescription
from register.models import Product, StockBalance
from tests.web.test_browser import login, pytestmark, shot  # noqa: F401 (the skip marks)

K50 = "Kétamine 50 mg/5 mL, solution injectable"


def _prescribe(*, hepatic: bool, dose: int, times: int, last_name: str) -> SecurePrescription:
    prescriber = get_user_model().objects.get(username="prescriber")
    patient = _patient(prescriber, hepatic=hepatic, last_name=last_name)
    line = services.LineInput(product=Product.objects.get(name=K50), kind="bolus", dose_mg=Decimal(dose),
                              doses_per_day=times)
    return services.prescription_issue(
        actor=prescriber, patient=patient, secure_form_lot="SF-26-0042", declared_lines=1,
        issued_on=timezone.localdate(), duration_days=3, lines=[line],
    ).prescription


def _patient(prescriber: Any, *, hepatic: bool, last_name: str) -> Patient:
    from register.models import Establishment

    return services.patient_create(
        actor=prescriber, establishment=Establishment.objects.get(code="DEMO"), last_name=last_name,
        first_name="Louise", sex="F", birth_date=dt.date(1962, 3, 4), address="3 rue Lepic, 75018 Paris",
        hepatic_impairment=hepatic,
    )


def test_prescriber_issues_a_prescription_and_reads_the_dose_in_words(page: Any) -> None:
    """Search, create the patient, the browser's live checks (28 days, lines count), issue, read the words."""
    login(page, "prescriber")
    page.wait_for_url("**/patients/")
    assert page.get_by_test_id("role").inner_text() == "Prescripteur"
    page.get_by_label("Nom du patient").fill("Lemoine")
    page.get_by_role("button", name="Rechercher").click()
    assert "Aucun patient « Lemoine »" in page.locator("td.empty").inner_text()
    shot(page, "20-patients-search-empty")
    page.get_by_role("link", name="Nouveau patient").click()
    assert page.get_by_label("Nom", exact=True).input_value() == "Lemoine"
    page.get_by_label("Prénom").fill("Claire")
    page.get_by_label("Féminin").check()
    page.get_by_label("Date de naissance").fill("1958-09-12")
    page.get_by_label("Adresse").fill("8 avenue Foch\n69006 Lyon")
    page.get_by_label("Poids (kg)").fill("64")
    shot(page, "21-patient-form")
    page.get_by_role("button", name="Créer le patient").click()
    page.wait_for_url("**/patients/*/")
    assert "Patient LEMOINE Claire créé." in page.locator(".messages").inner_text()
    shot(page, "22-patient-page")

    page.get_by_role("link", name="Nouvelle ordonnance sécurisée").click()
    page.get_by_label("Numéro de lot du formulaire sécurisé").fill("SF-2026-000777")
    page.get_by_label("Durée (jours)").fill("30")
    assert page.locator("#duration-live").inner_text() == "Une ordonnance de kétamine couvre au plus 28 jours."
    page.get_by_label("Durée (jours)").fill("14")
    assert not page.locator("#duration-live").is_visible()
    page.get_by_role("button", name="+ Ajouter une ligne").click()
    assert page.locator("#lines-live").inner_text() == "Vous avez déclaré 1 ligne(s) mais en avez saisi 2."
    shot(page, "23-prescription-live-checks")
    page.get_by_role("button", name="Émettre l’ordonnance").click()
    assert "/prescribe/" in page.url  # the browser stopped the submit: nothing sent
    page.get_by_role("button", name="Retirer cette ligne").nth(1).click()
    assert not page.locator("#lines-live").is_visible()
    page.locator("#id_lines-0-product").select_option(label=K50)
    page.locator("#id_lines-0-kind").select_option("bolus")
    assert not page.locator("#id_lines-0-rate_mg_per_h").is_visible()
    page.locator("#id_lines-0-dose_mg").fill("25")
    page.locator("#id_lines-0-doses_per_day").fill("3")
    shot(page, "24-prescription-form")
    page.get_by_role("button", name="Émettre l’ordonnance").click()
    page.wait_for_url("**/prescriptions/*/")
    prescription = SecurePrescription.objects.get(patient__last_name="Lemoine")
    assert "vingt-cinq milligrammes, trois fois par jour" in page.get_by_test_id("dosage-words").inner_text()
    assert "Pendant quatorze jours" in page.get_by_test_id("dosage-words").inner_text()
    assert page.get_by_test_id("pdf-link").get_attribute("href") == f"/api/v1/prescriptions/{prescription.pk}/pdf"
    assert page.get_by_test_id("no-alerts").is_visible()
    shot(page, "25-prescription-issued")

    page.get_by_role("link", name="Ordonnances", exact=True).click()
    assert page.locator(f"tr[data-prescription='{prescription.pk}']").is_visible()
    shot(page, "26-my-prescriptions")


def test_technician_dispenses_against_the_prescription(page: Any) -> None:
    """The technician finds the prescription waiting, sees what remains and the alerts, and dispenses."""
    prescription = _prescribe(hepatic=False, dose=50, times=1, last_name="Garnier")
    login(page, "technician")
    page.wait_for_url("**/stock/")
    page.get_by_role("link", name="À dispenser").click()
    row = page.locator(f"tr[data-prescription='{prescription.pk}']")
    assert "Au plus 3 ampoules aujourd’hui" in row.inner_text()
    shot(page, "30-to-dispense")
    row.get_by_role("link", name="Dispenser").click()
    assert "cinquante milligrammes, une fois par jour" in page.get_by_test_id("dosage-words").inner_text()
    assert page.get_by_label("Quantité (unités)").input_value() == "3"
    # The preview counts this dispensation: 3 x 50 mg handed over at once is above 100 mg in 24 h.
    assert page.locator("[data-code='HEPATO_DISPENSED_24H']").is_visible()
    assert page.locator(".alerts li.blocking").count() == 0
    assert page.locator("#id_override_justification").count() == 0
    shot(page, "31-dispense-screen")
    page.get_by_role("button", name="Confirmer la dispensation").click()
    page.wait_for_url("**/register/*/")
    assert "Dispensation enregistrée : 3 × K50-2401" in page.locator(".messages").inner_text()
    assert page.get_by_test_id("balance-after").inner_text() == "37"
    shot(page, "32-dispensed-line")
    assert Dispensation.objects.get(prescription=prescription).dispensed_by.username == "technician"

    page.get_by_role("link", name="Transferts").click()
    page.get_by_label("Service", exact=True).select_option(label="Réanimation")
    page.get_by_label("Lot", exact=True).select_option(label=page.locator("#id_lot option").nth(1).inner_text())
    page.get_by_label("Quantité (unités)").fill("4")
    shot(page, "33-transfer-form")
    page.get_by_role("button", name="Enregistrer le transfert").click()
    page.wait_for_url("**/register/*/")
    assert "Transfert enregistré" in page.locator(".messages").inner_text()
    assert StockBalance.objects.filter(location__code="REA", on_hand=4).exists()


def test_pharmacist_overrides_a_blocking_hepatotoxic_alert(page: Any) -> None:
    """Hepatic impairment + 120 mg/day: the technician is told a pharmacist must decide; the
    pharmacist writes a justification and the dispensation goes through."""
    prescription = _prescribe(hepatic=True, dose=60, times=2, last_name="Fabre")
    login(page, "technician")
    page.wait_for_url("**/stock/")
    page.goto(page.base + f"/dispensing/{prescription.pk}/")
    assert page.locator("[data-code='HEPATO_IMPAIRED_PATIENT']").is_visible()
    assert "un pharmacien doit décider" in page.get_by_test_id("pharmacist-must-decide").inner_text()
    assert page.get_by_role("button", name="Confirmer la dispensation").count() == 0
    shot(page, "40-blocking-alert-technician")
    page.get_by_role("button", name="Se déconnecter").click()

    login(page, "pharmacist")
    page.wait_for_url("**/stock/")
    page.goto(page.base + f"/dispensing/{prescription.pk}/")
    assert page.get_by_test_id("override-box").is_visible()
    page.get_by_label("Quantité (unités)").fill("2")
    page.get_by_role("button", name="Dispenser malgré l’alerte").click()
    assert "Écrivez votre justification (au moins 20 caractères)" in page.locator(
        "#id_override_justification_error"
    ).inner_text()
    shot(page, "41-override-needs-justification")
    page.get_by_label("Justification du pharmacien pour dispenser malgré l’alerte bloquante").fill(
        "Douleur réfractaire en soins palliatifs ; bilan hépatique du 20/11 normal, contrôle prévu à J+3."
    )
    shot(page, "42-override-justified")
    page.get_by_role("button", name="Dispenser malgré l’alerte").click()
    page.wait_for_url("**/register/*/")
    assert "Dispensation enregistrée : 2 × K50-2401" in page.locator(".messages").inner_text()
    dispensation = Dispensation.objects.get(prescription=prescription)
    assert dispensation.overridden_by.username == "pharmacist"
    assert [alert["code"] for alert in dispensation.alerts if alert["severity"] == "blocking"] == ["HEPATO_IMPAIRED_PATIENT"]


def test_nurse_records_an_administration_from_her_ward(page: Any) -> None:
    """A nurse assigned to the intensive care ward lands on her page and records an administration."""
    from operations import services as op_services
    from register.models import Location, Lot

    pharmacist = get_user_model().objects.get(username="pharmacist")
    ward = Location.objects.get(establishment__code="DEMO", code="REA")
    vault = Location.objects.get(establishment__code="DEMO", code="VAULT")
    lot = Lot.objects.get(establishment__code="DEMO", batch_number="K50-2401")
    op_services.transfer_create(actor=pharmacist, lot=lot, source=vault, destination=ward, quantity=5)
    op_services.nurse_ward_assign(actor=pharmacist, nurse=get_user_model().objects.get(username="nurse"), ward=ward)
    login(page, "nurse")
    page.wait_for_url("**/ward/administration/")
    page.get_by_label("Lot", exact=True).select_option(str(lot.pk))
    page.get_by_label("Quantité (unités)").fill("1")
    page.get_by_label("Patient (nom, prénom)").fill("GARNIER Louise")
    page.get_by_label("Prescripteur").fill("Dr Antoine Durand")
    shot(page, "50-nurse-administration")
    page.get_by_role("button", name="Enregistrer l’administration").click()
    assert "Administration enregistrée : 1 × K50-2401, Réanimation" in page.locator(".messages").inner_text()
    assert StockBalance.objects.get(lot=lot, location=ward).on_hand == 4
    shot(page, "51-nurse-administration-recorded")
