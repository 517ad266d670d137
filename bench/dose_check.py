"""Cost of one dispensation's hepatotoxic check: 1 day vs 10 years of daily history (issue 4).

Not a test. Builds, inside one transaction that is rolled back at the end, two patients of the
demo establishment: one with a single dispensed day, one with 10 years of daily dispensations
(a 28-day prescription of 150 mg/day after another, one dispensation a day, every one through
the real services with the clock moved by time_machine). Then times the check a new
dispensation runs (``selectors.hepatotoxic_check``) and a whole ``dispensation_create`` (in a
rolled-back savepoint) for each patient, and prints both and the ratio. The goal is < 2x: the
check reads an indexed window of the patient's prescriptions (150 days back), not the history.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/presc .venv/bin/python bench/dose_check.py [--years 10]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

import time_machine  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from prescriptions import selectors, services  # noqa: E402
from prescriptions.models import Dispensation, SecurePrescription  # noqa: E402
from register import services as register_services  # noqa: E402
from register.demo import demo_load  # noqa: E402
from register.models import Establishment, Product  # noqa: E402

START = dt.datetime(2017, 5, 2, 10, 0, tzinfo=dt.UTC)  # ketamine is a narcotic from 2017-04-24
JUSTIFICATION = "Banc d'essai : traitement au long cours validé, bilans hépatiques mensuels normaux."
DURATION = 28


class Rollback(Exception):
    pass


def _line(product: Product) -> services.LineInput:
    return services.LineInput(product=product, kind="bolus", dose_mg=Decimal(50), doses_per_day=3)


def _patient(actor: Any, establishment: Establishment, name: str) -> Any:
    return services.patient_create(
        actor=actor, establishment=establishment, last_name=name, first_name="Banc", sex="F",
        birth_date=dt.date(1960, 1, 1), address="1 rue du Banc, 75000 Paris",
    )


def _history(*, patient: Any, days: int, prescriber: Any, pharmacist: Any, lot: Any) -> dt.datetime:
    """One dispensation a day for ``days`` days, a new 28-day prescription every 28 days."""
    prescription = None
    for offset in range(days):
        moment = START + dt.timedelta(days=offset)
        with time_machine.travel(moment, tick=False):
            if offset % DURATION == 0:
                prescription = services.prescription_issue(
                    actor=prescriber, patient=patient, secure_form_lot=f"BENCH-{patient.pk}-{offset}",
                    declared_lines=1, issued_on=timezone.localdate(), duration_days=DURATION, lines=[_line(lot.product)],
                ).prescription
            assert prescription is not None
            services.dispensation_create(actor=pharmacist, prescription=prescription, lot=lot, quantity=3,
                                         override_justification=JUSTIFICATION)
        if offset and offset % 365 == 0:
            print(f"  {patient.last_name}: {offset // 365} year(s) of history", flush=True)
    return START + dt.timedelta(days=days)


def _time(checked: dict[str, SecurePrescription], pharmacist: Any, lot: Any, runs: int) -> dict[str, tuple[float, float]]:
    """Median check and whole-dispensation times per patient, runs interleaved so that the load
    of a shared machine hits both patients alike."""
    checks: dict[str, list[float]] = {label: [] for label in checked}
    dispensations: dict[str, list[float]] = {label: [] for label in checked}
    alerts: dict[str, str] = {}
    for _ in range(runs):
        for label, prescription in checked.items():
            started = time.perf_counter()
            result = selectors.hepatotoxic_check(prescription, dispensing_racemic_mg=Decimal(150))
            checks[label].append(time.perf_counter() - started)
            alerts[label] = ", ".join(a.code for a in result.alerts)
            sid = transaction.savepoint()
            started = time.perf_counter()
            services.dispensation_create(actor=pharmacist, prescription=prescription, lot=lot, quantity=3,
                                         override_justification=JUSTIFICATION)
            dispensations[label].append(time.perf_counter() - started)
            transaction.savepoint_rollback(sid)
    results = {}
    for label in checked:
        check_ms = statistics.median(checks[label]) * 1000
        dispense_ms = statistics.median(dispensations[label]) * 1000
        print(f"{label:>24}: check {check_ms:7.2f} ms   whole dispensation {dispense_ms:7.2f} ms   "
              f"(alerts: {alerts[label]})")
        results[label] = (check_ms, dispense_ms)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    days = args.years * 365 + args.years // 4
    try:
        with transaction.atomic():
            with time_machine.travel(START - dt.timedelta(days=1), tick=False):
                demo_load(password="bench-password-2026")
                establishment = Establishment.objects.get(code="DEMO")
                User = get_user_model()
                prescriber, pharmacist = User.objects.get(username="prescriber"), User.objects.get(username="pharmacist")
                product = Product.objects.get(name="Kétamine 50 mg/5 mL, solution injectable")
                lot = register_services.lot_create(actor=pharmacist, establishment=establishment, product=product,
                                                   batch_number="BENCH-LOT", expires_on=dt.date(2045, 1, 1))
                register_services.movement_record(actor=pharmacist, lot=lot, direction="entry", reason="receipt",
                                                  quantity=3 * (days + 2 * args.runs + 10), counterparty="Banc d'essai")
                short = _patient(pharmacist, establishment, "UNJOUR")
                long = _patient(pharmacist, establishment, "DIXANS")
            print(f"Building 1 day and {days} days ({args.years} years) of daily dispensations...", flush=True)
            _history(patient=short, days=1, prescriber=prescriber, pharmacist=pharmacist, lot=lot)
            end = _history(patient=long, days=days, prescriber=prescriber, pharmacist=pharmacist, lot=lot)
            print(f"history: {Dispensation.objects.filter(patient=long).count()} dispensations, "
                  f"{SecurePrescription.objects.filter(patient=long).count()} prescriptions", flush=True)
            with time_machine.travel(end, tick=False):
                checked = {}
                for patient, label in ((short, "1 day of history"), (long, f"{args.years} years of history")):
                    checked[label] = services.prescription_issue(
                        actor=prescriber, patient=patient, secure_form_lot=f"BENCH-CHECK-{patient.pk}",
                        declared_lines=1, issued_on=timezone.localdate(), duration_days=DURATION,
                        lines=[_line(product)], overlap_authorized=True,
                    ).prescription
                results = list(_time(checked, pharmacist, lot, args.runs).values())
            (one_check, one_disp), (long_check, long_disp) = results
            print(f"ratio {args.years} years / 1 day: check {long_check / one_check:.2f}x, "
                  f"whole dispensation {long_disp / one_disp:.2f}x (goal < 2x)")
            raise Rollback
    except Rollback:
        pass


if __name__ == "__main__":
    main()
