"""Concurrent dispensations on real PostgreSQL: the prescription lock keeps dispensed <= prescribed."""

from __future__ import annotations

import threading
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

from config.errors import DomainError
from prescriptions import services
from prescriptions.models import Dispensation, SecurePrescription
from register.models import Lot
from register.selectors import register_verify


def _race(prescription_pk: int, lot_pk: int, usernames: list[str], quantity: int) -> list[str]:
    outcomes: list[str] = []
    guard = threading.Lock()
    start = threading.Barrier(len(usernames))

    def worker(username: str) -> None:
        try:
            actor = get_user_model().objects.get(username=username)
            prescription = SecurePrescription.objects.get(pk=prescription_pk)
            lot = Lot.objects.select_related("product__substance", "establishment").get(pk=lot_pk)
            start.wait()
            try:
                services.dispensation_create(actor=actor, prescription=prescription, lot=lot, quantity=quantity)
                outcome = "ok"
            except DomainError as refused:
                outcome = refused.code
            with guard:
                outcomes.append(outcome)
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=worker, args=(name,)) for name in usernames]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(outcomes)


def test_two_concurrent_dispensations_of_the_last_quantity_exactly_one_succeeds(committed_db, demo, patient, product_50,
                                                                                 prescriber, pharmacist, lot_50):
    """7 ampoules prescribed, 5 dispensed; two pharmacists dispense the last 2 at once: one 201, one refusal."""
    prescription = services.prescription_issue(
        actor=prescriber, patient=patient, secure_form_lot="SF-RACE", declared_lines=1,
        issued_on=timezone.localdate(), duration_days=7,
        lines=[services.LineInput(product=product_50, kind="bolus", dose_mg=Decimal(50), doses_per_day=1)],
    ).prescription
    services.dispensation_create(actor=pharmacist, prescription=prescription, lot=lot_50, quantity=5)

    outcomes = _race(prescription.pk, lot_50.pk, ["pharmacist", "pharmacist2"], quantity=2)

    assert outcomes == ["ok", "prescription_exhausted"]
    assert sum(d.quantity for d in Dispensation.objects.filter(prescription=prescription)) == 7
    assert register_verify(demo["DEMO"]).ok


def test_many_concurrent_dispensations_never_exceed_the_prescription(committed_db, demo, patient, product_50,
                                                                     prescriber, lot_50):
    """Four dispensers racing for 3 remaining ampoules, one each: exactly 3 pass."""
    prescription = services.prescription_issue(
        actor=prescriber, patient=patient, secure_form_lot="SF-RACE-2", declared_lines=1,
        issued_on=timezone.localdate(), duration_days=3,
        lines=[services.LineInput(product=product_50, kind="bolus", dose_mg=Decimal(50), doses_per_day=1)],
    ).prescription

    outcomes = _race(prescription.pk, lot_50.pk, ["pharmacist", "pharmacist2", "technician", "pharmacist"], quantity=1)

    assert outcomes == ["ok", "ok", "ok", "prescription_exhausted"]
    assert Dispensation.objects.filter(prescription=prescription).count() == 3
