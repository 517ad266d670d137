"""The hepatotoxic cross-check end to end: block, override by a pharmacist, never by a technician."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from audit.models import AuditEvent
from prescriptions import services
from prescriptions.models import Dispensation
from register.models import Lot, Movement
from tests.prescriptions.conftest import ESKETAMINE_50, bolus

JUSTIFICATION = "Sédation des soins de brûlés validée en RCP, bilan hépatique du jour normal."


@pytest.fixture
def blocked(issue, make_patient, product_50):
    """A hepatic-impaired patient prescribed 150 mg/day for 2 days: HEPATO_IMPAIRED_PATIENT blocks."""
    impaired = make_patient(hepatic_impairment=True, last_name="Hépatique")
    return issue(patient=impaired, duration_days=2, lines=[bolus(product_50, 50, 3)]).prescription


def _post(api, user, prescription, lot, quantity=1, **extra):
    body = {"lot": lot.pk, "quantity": quantity, **extra}
    return api(user).post(f"/api/v1/prescriptions/{prescription.pk}/dispensations/", body, format="json")


def test_a_blocking_alert_refuses_the_dispensation_and_writes_no_line(api, pharmacist, blocked, lot_50):
    """409 hepatotoxic_risk with the alerts; no register line, no dispensation."""
    lines_before = Movement.objects.count()
    response = _post(api, pharmacist, blocked, lot_50)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "hepatotoxic_risk" and body["detail"]
    codes = {alert["code"]: alert["severity"] for alert in body["alerts"]}
    assert codes["HEPATO_IMPAIRED_PATIENT"] == "blocking" and codes["HEPATO_HIGH_DAILY_DOSE"] == "warning"
    impaired = next(a for a in body["alerts"] if a["code"] == "HEPATO_IMPAIRED_PATIENT")
    assert "transaminases" in impaired["message"] and "bilirubin" in impaired["message_en"]
    assert Movement.objects.count() == lines_before and not Dispensation.objects.exists()


def test_a_pharmacist_override_creates_exactly_one_line_and_keeps_the_justification(api, pharmacist, blocked, lot_50):
    """With a justification of 20+ characters: 201, one register line, alerts and override stored and audited."""
    lines_before = Movement.objects.count()
    response = _post(api, pharmacist, blocked, lot_50, override_justification=JUSTIFICATION)
    assert response.status_code == 201, response.json()
    assert Movement.objects.count() == lines_before + 1
    dispensation = Dispensation.objects.get()
    assert dispensation.override_justification == JUSTIFICATION and dispensation.overridden_by == pharmacist
    assert "HEPATO_IMPAIRED_PATIENT" in {alert["code"] for alert in dispensation.alerts}
    assert {a["code"] for a in response.json()["alerts"]} >= {"HEPATO_IMPAIRED_PATIENT"}
    event = AuditEvent.objects.get(action="prescriptions.dispensation.overridden")
    assert event.data["justification"] == JUSTIFICATION and event.object_id == str(dispensation.pk)


def test_a_short_justification_does_not_override(api, pharmacist, blocked, lot_50):
    """19 characters is not enough: still 409 hepatotoxic_risk."""
    response = _post(api, pharmacist, blocked, lot_50, override_justification="x" * 19)
    assert response.status_code == 409 and response.json()["code"] == "hepatotoxic_risk"


def test_a_technician_cannot_override(api, technician, blocked, lot_50):
    """A technician's override is 403 and writes nothing; without override, 409."""
    lines_before = Movement.objects.count()
    refused = _post(api, technician, blocked, lot_50, override_justification=JUSTIFICATION)
    assert refused.status_code == 403 and refused.json()["code"] == "override_forbidden"
    plain = _post(api, technician, blocked, lot_50)
    assert plain.status_code == 409 and plain.json()["code"] == "hepatotoxic_risk"
    assert Movement.objects.count() == lines_before


def test_esketamine_counts_double(api, pharmacist, issue, demo):
    """60 mg/day of esketamine for 28 days is 120 mg/day racemic-equivalent: prolonged exposure blocks."""
    lot = Lot.objects.get(establishment=demo["DEMO"], product__name=ESKETAMINE_50)
    prescription = issue(duration_days=28, lines=[bolus(lot.product, 30, 2)]).prescription
    response = _post(api, pharmacist, prescription, lot)
    assert response.status_code == 409
    assert "HEPATO_PROLONGED_EXPOSURE" in {alert["code"] for alert in response.json()["alerts"]}


def test_the_same_racemic_dose_does_not_block(api, pharmacist, issue, lot_50):
    """60 mg/day of racemic ketamine for 28 days stays under 100 mg/day: dispensed with no alert."""
    prescription = issue(duration_days=28, lines=[bolus(lot_50.product, 30, 2)]).prescription
    response = _post(api, pharmacist, prescription, lot_50)
    assert response.status_code == 201 and response.json()["alerts"] == []


def test_history_of_dispensed_prescriptions_counts(api, pharmacist, prescriber, patient, issue, lot_50):
    """14 high-dose days dispensed a month ago plus 14 now make 28 within 150 days: blocked.
    The same earlier prescription never dispensed does not count."""
    today = timezone.localdate()
    with time_machine.travel(timezone.now() - dt.timedelta(days=30), tick=False):
        earlier = issue(duration_days=14, lines=[bolus(lot_50.product, 50, 3)]).prescription
    current = issue(duration_days=14, lines=[bolus(lot_50.product, 50, 3)], issued_on=today).prescription
    assert _post(api, pharmacist, current, lot_50).status_code == 201  # earlier one not dispensed: no block

    other = issue(duration_days=14, lines=[bolus(lot_50.product, 50, 3)], overlap_authorized=True).prescription
    with time_machine.travel(timezone.now() - dt.timedelta(days=30), tick=False):
        services.dispensation_create(actor=pharmacist, prescription=earlier, lot=lot_50, quantity=1)
    response = _post(api, pharmacist, other, lot_50)
    assert response.status_code == 409
    assert "HEPATO_PROLONGED_EXPOSURE" in {alert["code"] for alert in response.json()["alerts"]}


def test_a_reversed_dispensation_no_longer_counts_in_the_history(api, pharmacist, issue, lot_50):
    """Once the earlier dispensation's line is reversed, its prescription leaves the timeline."""
    from register.services import movement_reverse

    with time_machine.travel(timezone.now() - dt.timedelta(days=30), tick=False):
        earlier = issue(duration_days=14, lines=[bolus(lot_50.product, 50, 3)]).prescription
        first = services.dispensation_create(actor=pharmacist, prescription=earlier, lot=lot_50, quantity=1)
    current = issue(duration_days=14, lines=[bolus(lot_50.product, 50, 3)]).prescription
    assert _post(api, pharmacist, current, lot_50).status_code == 409
    movement_reverse(actor=pharmacist, movement=first.movement, reason="Dispensation saisie par erreur")
    assert _post(api, pharmacist, current, lot_50).status_code == 201


def test_dispensed_24h_warns_across_prescriptions(api, pharmacist, issue, product_50, esketamine_50, demo, lot_50):
    """50 mg racemic then 50 mg esketamine (100 racemic-equivalent) within 24 h: 150 mg, a warning."""
    first = issue(duration_days=1, lines=[bolus(product_50, 50, 1)]).prescription
    second = issue(duration_days=1, lines=[bolus(esketamine_50, 25, 2)]).prescription
    assert _post(api, pharmacist, first, lot_50).json()["alerts"] == []
    lot_esk = Lot.objects.get(establishment=demo["DEMO"], product=esketamine_50)
    response = _post(api, pharmacist, second, lot_esk)
    assert response.status_code == 201
    assert [a["code"] for a in response.json()["alerts"]] == ["HEPATO_DISPENSED_24H"]
    assert "150 mg" in response.json()["alerts"][0]["message"]
