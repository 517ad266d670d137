"""A lived-in demo for people clicking through `make run`: a nurse on a ward with ward stock,
patients and a current secure prescription waiting at the pharmacy.

Kept apart from ``demo_load`` (which the tests use as their base data set) so the tests' figures
do not depend on it. Idempotent: each piece is created only when missing.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from register.models import Establishment, Lot, Movement, Product


def demo_scenario_load() -> None:
    from operations.models import NurseWardAssignment
    from operations.services import nurse_ward_assign, transfer_create
    from prescriptions.models import Patient, SecurePrescription
    from prescriptions.services import LineInput, patient_create, prescription_issue

    users = {u.username: u for u in get_user_model().objects.filter(username__in=["pharmacist", "nurse", "prescriber"])}
    demo = Establishment.objects.get(code="DEMO")
    vault = demo.locations.get(code="VAULT")
    ward = demo.locations.get(code="REA")
    k50 = Product.objects.get(name="Kétamine 50 mg/5 mL, solution injectable")
    with transaction.atomic():
        if not NurseWardAssignment.objects.filter(nurse=users["nurse"], ward=ward).exists():
            nurse_ward_assign(actor=users["pharmacist"], nurse=users["nurse"], ward=ward)
        lot = Lot.objects.get(establishment=demo, product=k50, batch_number="K50-2401")
        if not Movement.objects.filter(location=ward).exists():
            transfer_create(actor=users["pharmacist"], lot=lot, source=vault, destination=ward, quantity=5,
                            note="Dotation initiale de la réanimation")
        if Patient.objects.filter(establishment=demo).exists():
            return
        patients = [
            patient_create(actor=users["prescriber"], establishment=demo, last_name="Dupont", first_name="Jean",
                           sex="M", birth_date=dt.date(1961, 3, 14), address="12 rue Daguerre, 75014 Paris",
                           weight_kg=Decimal("78")),
            patient_create(actor=users["prescriber"], establishment=demo, last_name="Lambert", first_name="Lucie",
                           sex="F", birth_date=dt.date(1978, 9, 2), address="4 avenue du Maine, 75015 Paris",
                           weight_kg=Decimal("64"), hepatic_impairment=True),
        ]
        if not SecurePrescription.objects.filter(patient__in=patients).exists():
            prescription_issue(
                actor=users["prescriber"], patient=patients[0], secure_form_lot="OS-2026-000184", declared_lines=1,
                issued_on=timezone.localdate(), duration_days=7,
                lines=[LineInput(product=k50, kind="bolus", dose_mg=Decimal("25"), doses_per_day=2)],
            )



