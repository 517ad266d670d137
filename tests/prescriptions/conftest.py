"""Fixtures of the prescriptions tests: a patient, products, and a helper to issue prescriptions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from prescriptions import services
from register.models import Product

ESKETAMINE_50 = "Eskétamine 50 mg/2 mL, solution injectable"
KETAMINE_250 = "Kétamine 250 mg/5 mL, solution injectable"


@pytest.fixture
def product_250(db: Any) -> Product:
    return Product.objects.get(name=KETAMINE_250)


@pytest.fixture
def esketamine_50(db: Any) -> Product:
    return Product.objects.get(name=ESKETAMINE_50)


@pytest.fixture
def make_patient(demo: Any, prescriber: Any) -> Any:
    def make(*, hepatic_impairment: bool = False, last_name: str = "Dupont", establishment: Any = None,
             actor: Any = None) -> Any:
        return services.patient_create(
            actor=actor or prescriber, establishment=establishment or demo["DEMO"], last_name=last_name,
            first_name="Jeanne", sex="F", birth_date=dt.date(1970, 5, 17),
            address="12 rue des Écoles\n75005 Paris", weight_kg=Decimal("62.5"), hepatic_impairment=hepatic_impairment,
        )

    return make


@pytest.fixture
def patient(make_patient: Any) -> Any:
    return make_patient()


def bolus(product: Product, dose_mg: int | str = 50, doses_per_day: int = 1) -> services.LineInput:
    return services.LineInput(product=product, kind="bolus", dose_mg=Decimal(dose_mg), doses_per_day=doses_per_day)


def infusion(product: Product, rate: int | str = 200, hours: int | str = 3) -> services.LineInput:
    return services.LineInput(product=product, kind="infusion", rate_mg_per_h=Decimal(rate), hours_per_day=Decimal(hours))


@pytest.fixture
def issue(prescriber: Any, patient: Any, product_50: Product) -> Any:
    """``issue(**overrides)`` -> IssuedPrescription; defaults: today, 7 days, 50 mg x 1/day."""

    def make(**overrides: Any) -> services.IssuedPrescription:
        values: dict[str, Any] = {
            "actor": prescriber, "patient": patient, "secure_form_lot": "SF-2026-000123",
            "issued_on": timezone.localdate(), "duration_days": 7, "lines": [bolus(product_50)],
        }
        values.update(overrides)
        values.setdefault("declared_lines", len(values["lines"]))
        return services.prescription_issue(**values)

    return make
