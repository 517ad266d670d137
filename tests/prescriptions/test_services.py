"""Secure prescription and dispensation rules (DOMAIN.md §3): each refusal has a stable code."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from config.errors import DomainError
from prescriptions import services
from prescriptions.models import Dispensation, Prescriber, SecurePrescription
from register.models import Movement, RegisterHead
from register.services import movement_reverse
from tests.prescriptions.conftest import bolus, infusion

TODAY = timezone.localdate


def _code(call, *args, **kwargs) -> str:
    with pytest.raises(DomainError) as refused:
        call(*args, **kwargs)
    return refused.value.code


def _dispense(actor, prescription, lot, quantity, **kwargs):
    return services.dispensation_create(actor=actor, prescription=prescription, lot=lot, quantity=quantity, **kwargs)


def test_it_issues_a_prescription_with_the_dose_in_words(issue, product_50):
    """The dose is stored in French words generated from the structured values (R.5132-29)."""
    issued = issue(lines=[bolus(product_50, 50, 2)], duration_days=7)
    prescription = issued.prescription
    line = prescription.lines.get()
    assert line.words == "cinquante milligrammes, deux fois par jour"
    assert "cinquante milligrammes, deux fois par jour" in prescription.dosage_words
    assert "pendant sept jours" in prescription.dosage_words.lower()
    assert prescription.ends_on == TODAY() + dt.timedelta(days=6)
    assert AuditEvent.objects.filter(action="prescriptions.prescription.issued", object_id=str(prescription.pk)).exists()


def test_infusion_words_say_rate_and_hours(issue, product_250):
    """An infusion line reads "deux cents milligrammes par heure, pendant trois heures par jour"."""
    issued = issue(lines=[infusion(product_250, 200, 3)], duration_days=1)
    assert issued.prescription.lines.get().words == "deux cents milligrammes par heure, pendant trois heures par jour"


def test_it_refuses_more_than_28_days(issue):
    """R.5132-30: 29 days is refused with duration_exceeded; 28 days passes."""
    assert _code(issue, duration_days=29) == "duration_exceeded"
    assert issue(duration_days=28).prescription.duration_days == 28


def test_the_maximum_duration_is_configurable_per_product(issue, product_50):
    """A product limited to 14 days refuses 15."""
    product_50.max_prescription_days = 14
    product_50.save()
    assert _code(issue, duration_days=15) == "duration_exceeded"


def test_the_maximum_duration_follows_settings(issue, settings):
    """KETAMINE_RULES["MAX_PRESCRIPTION_DAYS"] lowers the limit for every product."""
    settings.KETAMINE_RULES = {**settings.KETAMINE_RULES, "MAX_PRESCRIPTION_DAYS": 10}
    assert _code(issue, duration_days=11) == "duration_exceeded"


def test_it_refuses_declared_lines_that_differ_from_the_lines(issue):
    """R.5132-5: the number in the square must match the lines entered."""
    assert _code(issue, declared_lines=2) == "declared_lines_mismatch"


def test_it_refuses_a_date_in_the_future_but_accepts_a_past_one(issue):
    """The date on the form is never in the future; a transcription may be dated in the past."""
    assert _code(issue, issued_on=TODAY() + dt.timedelta(days=1)) == "issued_on_in_future"
    assert issue(issued_on=TODAY() - dt.timedelta(days=2)).prescription.pk


def test_it_refuses_a_prescriber_without_identity(issue, pharmacist):
    """A user with no role/RPPS/address on file cannot issue (R.5132-3)."""
    assert _code(issue, actor=pharmacist) == "prescriber_incomplete"


def test_it_refuses_a_prescriber_with_a_missing_field(issue, prescriber):
    """An empty address on the prescriber's identity is refused with the field named."""
    Prescriber.objects.filter(user=prescriber).update(address="")
    with pytest.raises(DomainError) as refused:
        issue()
    assert refused.value.code == "prescriber_incomplete" and "address" in refused.value.fields


def test_rpps_must_be_11_digits(prescriber):
    """The service refuses a short RPPS, and the database refuses it too."""
    assert _code(services.prescriber_register, actor=prescriber, user=prescriber, title="Médecin",
                 rpps="12345", address="Paris") == "rpps_invalid"
    with pytest.raises(IntegrityError), transaction.atomic():
        Prescriber.objects.filter(user=prescriber).update(rpps="1234567890A")


def test_patient_fields_are_required(demo, prescriber):
    """A patient without an address is refused with patient_incomplete."""
    assert _code(services.patient_create, actor=prescriber, establishment=demo["DEMO"], last_name="X",
                 first_name="Y", sex="F", birth_date=dt.date(1990, 1, 1), address=" ") == "patient_incomplete"


def test_it_refuses_an_overlapping_prescription_unless_authorized(issue, product_50, esketamine_50):
    """R.5132-33: same prescriber, patient and substance over a covered period needs overlap_authorized."""
    issue(issued_on=TODAY() - dt.timedelta(days=10), duration_days=3)  # over, no overlap
    issue(duration_days=7)
    assert _code(issue, issued_on=TODAY() - dt.timedelta(days=1)) == "prescription_overlap"
    assert issue(overlap_authorized=True).prescription.overlap_authorized
    assert issue(lines=[bolus(esketamine_50, 25)]).prescription.pk  # another substance


def test_a_cancelled_prescription_does_not_overlap(issue, prescriber):
    """Once cancelled, the period is free for a new prescription."""
    first = issue().prescription
    services.prescription_cancel(actor=prescriber, prescription=first, reason="Erreur de posologie")
    assert issue().prescription.pk != first.pk


def test_it_dispenses_and_writes_one_register_line_naming_prescriber_and_patient(issue, pharmacist, lot_50):
    """The exit line has reason dispensation and the frozen names and addresses of both."""
    prescription = issue().prescription
    dispensation = _dispense(pharmacist, prescription, lot_50, 2, bearer_name="Paul Dupont", bearer_id="CNI 123456")
    movement = dispensation.movement
    assert (movement.direction, movement.reason, movement.quantity) == ("exit", "dispensation", 2)
    assert "DUPONT Jeanne" in movement.patient_name and "75005 Paris" in movement.patient_address
    assert "Dr Antoine Durand" in movement.prescriber_name and "RPPS 10001234567" in movement.prescriber_name
    assert "75014 Paris" in movement.prescriber_address
    assert "DUPONT Jeanne" in movement.counterparty and "Dr Antoine Durand" in movement.counterparty
    assert dispensation.mg == Decimal(100) and dispensation.bearer_id == "CNI 123456"


def test_a_lot_of_another_product_is_refused(issue, pharmacist, make_lot, product_250):
    """10 vs 50 mg/mL confusion (ANSM 2023): the lot must be of the prescribed product."""
    prescription = issue().prescription
    lot_250 = make_lot(product=product_250, units=5, batch="C-250")
    assert _code(_dispense, pharmacist, prescription, lot_250, 1) == "lot_product_mismatch"


def test_nothing_is_dispensed_beyond_the_prescription(issue, pharmacist, lot_50):
    """7 days x 50 mg = 350 mg = 7 ampoules: after 5, asking 3 is refused and the answer says 2."""
    prescription = issue().prescription
    _dispense(pharmacist, prescription, lot_50, 5)
    with pytest.raises(DomainError) as refused:
        _dispense(pharmacist, prescription, lot_50, 3)
    assert refused.value.code == "prescription_exhausted"
    assert refused.value.extra["dispensable_quantity"] == 2
    _dispense(pharmacist, prescription, lot_50, 2)


def test_a_reversed_dispensation_does_not_count(issue, pharmacist, lot_50):
    """Once its register line is reversed, the quantity may be dispensed again."""
    prescription = issue().prescription
    first = _dispense(pharmacist, prescription, lot_50, 7)
    assert _code(_dispense, pharmacist, prescription, lot_50, 1) == "prescription_exhausted"
    movement_reverse(actor=pharmacist, movement=first.movement, reason="Erreur de saisie")
    assert _dispense(pharmacist, prescription, lot_50, 7).quantity == 7


def test_after_day_three_only_the_remaining_days_are_dispensed(issue, pharmacist, lot_50):
    """R.5132-33: presented 10 days after a 14-day prescription, only 4 days (4 ampoules) may go."""
    prescription = issue(issued_on=TODAY() - dt.timedelta(days=10), duration_days=14).prescription
    with pytest.raises(DomainError) as refused:
        _dispense(pharmacist, prescription, lot_50, 5)
    assert refused.value.code == "presentation_late"
    assert refused.value.extra["remaining_days"] == 4 and refused.value.extra["dispensable_quantity"] == 4
    assert "R.5132-33" in refused.value.detail
    assert _dispense(pharmacist, prescription, lot_50, 4).quantity == 4


def test_on_day_three_the_whole_prescription_is_dispensable(issue, pharmacist, lot_50):
    """Presented 3 days after its date (the date not counted), it is dispensed in full."""
    prescription = issue(issued_on=TODAY() - dt.timedelta(days=3), duration_days=14).prescription
    assert _dispense(pharmacist, prescription, lot_50, 14).quantity == 14


def test_a_split_prescription_caps_each_dispensation_to_one_fraction(issue, pharmacist, lot_50):
    """14 days split by 7: at most 7 days (7 ampoules of 50 mg/day) at a time."""
    prescription = issue(duration_days=14, fraction_days=7).prescription
    with pytest.raises(DomainError) as refused:
        _dispense(pharmacist, prescription, lot_50, 8)
    assert refused.value.code == "fraction_exceeded" and refused.value.extra["dispensable_quantity"] == 7
    _dispense(pharmacist, prescription, lot_50, 7)
    _dispense(pharmacist, prescription, lot_50, 7)


def test_a_cancelled_prescription_is_not_dispensable(issue, prescriber, pharmacist, lot_50):
    """Cancelled: refused with prescription_cancelled, and the prescription is kept."""
    prescription = issue().prescription
    services.prescription_cancel(actor=prescriber, prescription=prescription, reason="Traitement arrêté")
    assert _code(_dispense, pharmacist, prescription, lot_50, 1) == "prescription_cancelled"
    assert SecurePrescription.objects.get(pk=prescription.pk).status == "cancelled"


def test_an_expired_prescription_is_not_dispensable(issue, pharmacist, lot_50):
    """Past its last day, nothing is dispensed."""
    prescription = issue(issued_on=TODAY() - dt.timedelta(days=8), duration_days=7).prescription
    assert _code(_dispense, pharmacist, prescription, lot_50, 1) == "prescription_expired"


def test_a_refused_dispensation_leaves_nothing(issue, pharmacist, lot_50, demo):
    """No register line, no number consumed, no dispensation row after a refusal."""
    prescription = issue().prescription
    head = RegisterHead.objects.get(establishment=demo["DEMO"]).last_number
    _code(_dispense, pharmacist, prescription, lot_50, 8)
    assert RegisterHead.objects.get(establishment=demo["DEMO"]).last_number == head
    assert not Dispensation.objects.exists()


def test_only_the_author_cancels(issue, demo):
    """Another prescriber of the establishment cannot cancel someone else's prescription."""
    prescription = issue().prescription
    other = get_user_model().objects.create(username="dr2", first_name="Lou", last_name="Blanc")
    demo["DEMO"].members.add(other)
    services.prescriber_register(actor=other, user=other, title="Médecin", rpps="10009999999", address="Paris")
    assert _code(services.prescription_cancel, actor=other, prescription=prescription, reason="x") == "not_your_prescription"


def test_the_database_never_deletes_a_prescription(issue):
    """A DELETE is refused by a trigger (R.5132-35: kept 3 years)."""
    prescription = issue().prescription
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurePrescription.objects.filter(pk=prescription.pk).delete()


def test_the_database_refuses_changing_what_was_prescribed(issue):
    """Only the status may change; the duration written by the prescriber may not."""
    prescription = issue().prescription
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurePrescription.objects.filter(pk=prescription.pk).update(duration_days=3)


def test_a_cancelled_prescription_is_frozen_in_the_database(issue, prescriber):
    """A cancelled prescription cannot be switched back to issued."""
    prescription = issue().prescription
    services.prescription_cancel(actor=prescriber, prescription=prescription, reason="Erreur")
    with pytest.raises(DatabaseError), transaction.atomic():
        SecurePrescription.objects.filter(pk=prescription.pk).update(status="issued")


def test_dispensations_are_append_only(issue, pharmacist, lot_50):
    """UPDATE and DELETE of a dispensation are refused by the database."""
    dispensation = _dispense(pharmacist, issue().prescription, lot_50, 1)
    with pytest.raises(DatabaseError), transaction.atomic():
        Dispensation.objects.filter(pk=dispensation.pk).update(quantity=2)
    with pytest.raises(DatabaseError), transaction.atomic():
        Dispensation.objects.filter(pk=dispensation.pk).delete()
    assert Movement.objects.filter(pk=dispensation.movement_id).exists()


def test_prescription_history_is_kept(issue, prescriber):
    """django-simple-history records the cancellation as a new historical row."""
    prescription = issue().prescription
    services.prescription_cancel(actor=prescriber, prescription=prescription, reason="Erreur")
    assert [h.status for h in prescription.history.order_by("history_id")] == ["issued", "cancelled"]


def test_services_refuse_an_actor_of_another_establishment(issue, outsider, lot_50, demo):
    """Even called directly, a service refuses someone who does not belong to the establishment."""
    prescription = issue().prescription
    assert _code(_dispense, outsider, prescription, lot_50, 1) == "not_a_member"
    assert _code(services.patient_create, actor=outsider, establishment=demo["DEMO"], last_name="X", first_name="Y",
                 sex="F", birth_date=dt.date(1990, 1, 1), address="Paris") == "not_a_member"
