"""Patients, prescriptions and dispensations over HTTP (API.md), with the role matrix."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.utils import timezone
from pypdf import PdfReader

from audit.models import AuditEvent
from prescriptions.models import Dispensation, Patient, SecurePrescription
from register.models import Movement

PATIENT = {
    "last_name": "Lefèvre", "first_name": "Marc", "sex": "M", "birth_date": "1961-02-03",
    "address": "4 avenue du Parc, 75013 Paris", "weight_kg": "80.0", "hepatic_impairment": False,
}


def _prescription_body(patient_id: int, product_id: int, **overrides):
    body = {
        "patient": patient_id, "secure_form_lot": "SF-26-0001", "declared_lines": 1,
        "issued_on": timezone.localdate().isoformat(), "duration_days": 7,
        "lines": [{"product": product_id, "kind": "bolus", "dose_mg": "50", "doses_per_day": 1}],
    }
    body.update(overrides)
    return body


@pytest.fixture
def api_patient(api, prescriber):
    response = api(prescriber).post("/api/v1/patients/", PATIENT, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.fixture
def api_prescription(api, prescriber, api_patient, product_50):
    response = api(prescriber).post("/api/v1/prescriptions/", _prescription_body(api_patient["id"], product_50.pk),
                                    format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_it_creates_a_patient(api, pharmacist):
    """POST /patients/ by the pharmacy answers 201 with the patient."""
    response = api(pharmacist).post("/api/v1/patients/", PATIENT, format="json")
    assert response.status_code == 201
    assert response.json()["last_name"] == "Lefèvre" and Patient.objects.count() == 1


def test_a_patient_missing_fields_is_a_400(api, prescriber):
    """No birth date: 400 validation_error naming the field."""
    body = {k: v for k, v in PATIENT.items() if k != "birth_date"}
    response = api(prescriber).post("/api/v1/patients/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error" and "birth_date" in response.json()["fields"]


def test_patients_of_another_establishment_are_invisible(api, outsider, api_patient):
    """The outsider sees no DEMO patient: empty list, 404 on the detail and exposure."""
    client = api(outsider)
    assert client.get("/api/v1/patients/").json()["count"] == 0
    assert client.get(f"/api/v1/patients/{api_patient['id']}/").status_code == 404
    assert client.get(f"/api/v1/patients/{api_patient['id']}/exposure/").status_code == 404


def test_it_issues_a_prescription_with_words_and_alerts(api, prescriber, api_patient, product_50):
    """201 with the dose in words and an empty alerts list for an ordinary dose."""
    body = _prescription_body(api_patient["id"], product_50.pk)
    body["lines"][0]["doses_per_day"] = 2
    response = api(prescriber).post("/api/v1/prescriptions/", body, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["lines"][0]["words"] == "cinquante milligrammes, deux fois par jour"
    assert "cinquante milligrammes, deux fois par jour" in data["dosage_words"]
    assert data["alerts"] == [] and data["status"] == "issued"


def test_a_high_dose_prescription_is_issued_with_its_alerts(api, prescriber, api_patient, product_50):
    """150 mg/day for 28 days: issued (201) with HIGH_DAILY_DOSE, SUSTAINED and PROLONGED alerts."""
    body = _prescription_body(api_patient["id"], product_50.pk, duration_days=28)
    body["lines"][0].update(dose_mg="50", doses_per_day=3)
    response = api(prescriber).post("/api/v1/prescriptions/", body, format="json")
    assert response.status_code == 201
    alerts = {a["code"]: a["severity"] for a in response.json()["alerts"]}
    assert alerts == {"HEPATO_HIGH_DAILY_DOSE": "warning", "HEPATO_SUSTAINED_HIGH_DOSE": "warning",
                      "HEPATO_PROLONGED_EXPOSURE": "blocking"}
    assert all(a["message"] and a["message_en"] for a in response.json()["alerts"])


@pytest.mark.parametrize(
    ("overrides", "status", "code"),
    [
        ({"duration_days": 29}, 409, "duration_exceeded"),
        ({"declared_lines": 2}, 400, "declared_lines_mismatch"),
        ({"issued_on": (dt.date.today() + dt.timedelta(days=3)).isoformat()}, 400, "issued_on_in_future"),
        ({"lines": []}, 400, "validation_error"),
        ({"lines": [{"product": "PRODUCT_50", "kind": "bolus"}]}, 400, "line_invalid"),
        ({"lines": [{"product": "PRODUCT_50", "kind": "infusion", "rate_mg_per_h": "10", "hours_per_day": "25"}]},
         400, "line_invalid"),
        ({"secure_form_lot": ""}, 400, "validation_error"),
        ({"duration_days": "abc"}, 400, "validation_error"),
        ({"fraction_days": 9}, 400, "fraction_invalid"),
        ({"lines": [1]}, 400, "validation_error"),
        ({"lines": "bolus"}, 400, "validation_error"),
        ({"patient": "me"}, 400, "validation_error"),
        ({"patient": 10**9}, 404, "not_found"),
        ({"declared_lines": 10**9}, 400, "validation_error"),
    ],
)
def test_bad_prescriptions_are_refused_with_a_stable_code(api, prescriber, api_patient, product_50, overrides,
                                                         status, code):
    """Each refusal answers the API.md error format with its code, never a 500."""
    body = _prescription_body(api_patient["id"], product_50.pk, **overrides)
    for line in body["lines"] if isinstance(body["lines"], list) else []:
        if isinstance(line, dict) and line["product"] == "PRODUCT_50":
            line["product"] = product_50.pk
    response = api(prescriber).post("/api/v1/prescriptions/", body, format="json")
    assert response.status_code == status, response.json()
    assert response.json()["code"] == code


def test_an_unknown_product_is_a_404(api, prescriber, api_patient):
    """A line naming a product that does not exist answers 404, not 500."""
    body = _prescription_body(api_patient["id"], 999999)
    assert api(prescriber).post("/api/v1/prescriptions/", body, format="json").status_code == 404


@pytest.mark.parametrize("persona", ["pharmacist", "technician", "inspector", "nurse"])
def test_only_prescribers_write_prescriptions(api, persona, request, api_patient, product_50):
    """POST /prescriptions/ is 403 for every other role."""
    user = request.getfixturevalue(persona)
    response = api(user).post("/api/v1/prescriptions/", _prescription_body(api_patient["id"], product_50.pk),
                              format="json")
    assert response.status_code == 403


def test_a_prescriber_reads_only_their_own_prescriptions(api, prescriber, pharmacist, demo, api_prescription):
    """Another prescriber of the same establishment neither lists nor reads it; the pharmacy does."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    other = get_user_model().objects.create(username="dr-other", first_name="Lou", last_name="Blanc")
    other.groups.add(Group.objects.get(name="prescriber"))
    demo["DEMO"].members.add(other)
    assert api(other).get("/api/v1/prescriptions/").json()["count"] == 0
    assert api(other).get(f"/api/v1/prescriptions/{api_prescription['id']}/").status_code == 404
    assert api(prescriber).get("/api/v1/prescriptions/").json()["count"] == 1
    assert api(pharmacist).get(f"/api/v1/prescriptions/{api_prescription['id']}/").status_code == 200


def test_a_prescriber_posting_a_movement_gets_403(api, prescriber, lot_50):
    """DOMAIN.md §5: a prescriber makes no stock movement."""
    body = {"direction": "exit", "reason": "loss", "lot": lot_50.pk, "quantity": 1}
    response = api(prescriber).post("/api/v1/movements/", body, format="json")
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"


def test_the_pharmacy_dispenses_and_the_answer_carries_movement_and_alerts(api, technician, api_prescription, lot_50):
    """201 {id, movement, alerts}; the register line names patient and prescriber."""
    url = f"/api/v1/prescriptions/{api_prescription['id']}/dispensations/"
    response = api(technician).post(url, {"lot": lot_50.pk, "quantity": 2,
                                          "bearer": {"name": "Anne Lefèvre", "id": "CNI 0042"}}, format="json")
    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["alerts"] == [] and data["bearer_name"] == "Anne Lefèvre"
    movement = Movement.objects.get(pk=data["movement"])
    assert movement.reason == "dispensation" and "LEFÈVRE Marc" in movement.counterparty
    assert "Dr Antoine Durand" in movement.counterparty
    assert api(technician).get(url).json()["count"] == 1


def test_a_prescriber_cannot_dispense(api, prescriber, api_prescription, lot_50):
    """POST dispensations is pharmacy only."""
    url = f"/api/v1/prescriptions/{api_prescription['id']}/dispensations/"
    assert api(prescriber).post(url, {"lot": lot_50.pk, "quantity": 1}, format="json").status_code == 403


def test_a_lot_of_another_establishment_is_a_404(api, pharmacist, api_prescription, demo):
    """The OTHER establishment's lot cannot be named."""
    from register.models import Lot

    foreign = Lot.objects.filter(establishment=demo["OTHER"]).first()
    url = f"/api/v1/prescriptions/{api_prescription['id']}/dispensations/"
    assert api(pharmacist).post(url, {"lot": foreign.pk, "quantity": 1}, format="json").status_code == 404


def test_over_dispensing_is_a_409(api, pharmacist, api_prescription, lot_50):
    """8 ampoules against 7 prescribed: 409 prescription_exhausted, nothing written."""
    url = f"/api/v1/prescriptions/{api_prescription['id']}/dispensations/"
    response = api(pharmacist).post(url, {"lot": lot_50.pk, "quantity": 8}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "prescription_exhausted"
    assert not Dispensation.objects.exists()


def test_the_prescriber_cancels_and_the_pharmacy_can_no_longer_dispense(api, prescriber, pharmacist, api_prescription,
                                                                        lot_50):
    """POST cancel keeps the prescription with status cancelled; a dispensation then answers 409."""
    pk = api_prescription["id"]
    response = api(prescriber).post(f"/api/v1/prescriptions/{pk}/cancel/", {"reason": "Arrêt du traitement"},
                                    format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    refused = api(pharmacist).post(f"/api/v1/prescriptions/{pk}/dispensations/", {"lot": lot_50.pk, "quantity": 1},
                                   format="json")
    assert refused.status_code == 409 and refused.json()["code"] == "prescription_cancelled"
    assert api(pharmacist).post(f"/api/v1/prescriptions/{pk}/cancel/", {"reason": "x"}, format="json").status_code == 403


def test_the_prescription_pdf_shows_what_the_form_must_show(api, pharmacist, api_prescription):
    """GET /prescriptions/{id}/pdf: prescriber, RPPS, patient, secure-form lot, dose in words."""
    response = api(pharmacist).get(f"/api/v1/prescriptions/{api_prescription['id']}/pdf")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    for expected in ("10001234567", "Dr Antoine Durand", "LEFÈVRE Marc", "SF-26-0001", "cinquante milligrammes",
                     "03/02/1961", "pendant sept jours"):
        assert expected in text
    assert AuditEvent.objects.filter(action="prescriptions.prescription.printed").exists()


def test_the_exposure_endpoint_gives_the_timeline_and_alerts(api, prescriber, pharmacist, api_patient, product_50,
                                                              lot_50):
    """After a dispensation of 150 mg/day for 3 days, the timeline shows 150 mg on those days."""
    body = _prescription_body(api_patient["id"], product_50.pk, duration_days=3)
    body["lines"][0].update(doses_per_day=3)
    prescription = api(prescriber).post("/api/v1/prescriptions/", body, format="json").json()
    api(pharmacist).post(f"/api/v1/prescriptions/{prescription['id']}/dispensations/",
                         {"lot": lot_50.pk, "quantity": 3}, format="json")
    response = api(prescriber).get(f"/api/v1/patients/{api_patient['id']}/exposure/")
    assert response.status_code == 200
    data = response.json()
    today = timezone.localdate().isoformat()
    assert {"day": today, "racemic_mg": "150"} in data["timeline"]
    assert {a["code"] for a in data["alerts"]} == {"HEPATO_SUSTAINED_HIGH_DOSE", "HEPATO_DISPENSED_24H"}


def test_a_technician_cannot_read_exposure(api, technician, api_patient):
    """API.md: exposure is for prescribers and pharmacists."""
    assert api(technician).get(f"/api/v1/patients/{api_patient['id']}/exposure/").status_code == 403


def test_prescriptions_cannot_be_deleted_over_http(api, prescriber, api_prescription):
    """DELETE is not offered: 405, and the prescription is still there."""
    response = api(prescriber).delete(f"/api/v1/prescriptions/{api_prescription['id']}/")
    assert response.status_code == 405
    assert SecurePrescription.objects.filter(pk=api_prescription["id"]).exists()


@pytest.mark.parametrize(("persona", "status"), [("pharmacist", 201), ("technician", 201), ("inspector", 403),
                                                 ("nurse", 403), ("prescriber", 403)])
def test_dispensation_permission_matrix(api, request, persona, status, api_prescription, lot_50):
    """Only the pharmacy (pharmacist, technician) dispenses."""
    user = request.getfixturevalue(persona)
    url = f"/api/v1/prescriptions/{api_prescription['id']}/dispensations/"
    assert api(user).post(url, {"lot": lot_50.pk, "quantity": 1}, format="json").status_code == status


def test_a_prescriber_sees_only_their_own_patients_exposure(api, pharmacist, demo, prescriber, api_patient):
    """A patient created by the pharmacy with no prescription of theirs: 404 for the prescriber."""
    other = api(pharmacist).post("/api/v1/patients/", {**PATIENT, "last_name": "Autre"}, format="json").json()
    assert api(prescriber).get(f"/api/v1/patients/{other['id']}/exposure/").status_code == 404
    assert api(prescriber).get(f"/api/v1/patients/{api_patient['id']}/exposure/").status_code == 200
    assert api(pharmacist).get(f"/api/v1/patients/{other['id']}/exposure/").status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"lot": "abc", "quantity": 1},
        {"lot": 1, "quantity": 0},
        {"lot": 1, "quantity": 1, "bearer": {"name": "", "id": "x"}},
        {"lot": 1, "quantity": 10**12},
        {},
    ],
)
def test_bad_dispensation_bodies_are_400(api, pharmacist, api_prescription, body):
    """Shape errors answer 400 validation_error, never 500."""
    url = f"/api/v1/prescriptions/{api_prescription['id']}/dispensations/"
    response = api(pharmacist).post(url, body, format="json")
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
