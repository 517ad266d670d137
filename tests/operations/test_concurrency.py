"""Workflows under contention, on real commits: the register lock lets exactly one writer through."""

from __future__ import annotations

import threading
from collections.abc import Callable

from django.contrib.auth import get_user_model
from django.db import connection

from config.errors import DomainError
from operations import services as ops
from operations.models import InventoryCount, WardReturn
from register.models import Lot, Movement
from register.selectors import register_verify
from tests.operations.helpers import location, on_hand


def _race(work: Callable[[], object], threads: int = 2) -> list[str]:
    """Run ``work`` in N threads released together; return each outcome (ok or the error code)."""
    outcomes: list[str] = []
    guard = threading.Lock()
    start = threading.Barrier(threads)

    def worker() -> None:
        try:
            start.wait()
            try:
                work()
                outcome = "ok"
            except DomainError as refused:
                outcome = refused.code
            with guard:
                outcomes.append(outcome)
        finally:
            connection.close()

    running = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()
    return sorted(outcomes)


def test_two_simultaneous_validations_post_the_adjustments_once(committed_db, demo, make_lot):
    """Two pharmacists validate the same count at once: one validates, the other is refused."""
    user = get_user_model().objects.get
    pharmacist, pharmacist2 = user(username="pharmacist"), user(username="pharmacist2")
    lot = make_lot(units=10, batch="RACE-INV")
    count = ops.inventory_open(actor=pharmacist, location=location(lot, "VAULT"))
    for line in count.lines.select_related("lot"):
        counted = 7 if line.lot_id == lot.pk else on_hand(line.lot)
        ops.inventory_line_set(actor=pharmacist, count=count, lot=line.lot, counted=counted, reason="Casse")
    ops.inventory_submit(actor=pharmacist, count=count)
    actors = iter([pharmacist, pharmacist2])
    outcomes = _race(lambda: ops.inventory_validate(actor=next(actors), count=count))
    assert outcomes == ["inventory_not_submitted", "ok"]
    assert Movement.objects.filter(reason="adjustment").count() == 1 and on_hand(lot) == 7
    assert InventoryCount.objects.get(pk=count.pk).status == "validated"
    assert register_verify(demo["DEMO"]).ok


def test_two_simultaneous_returns_of_empties_cannot_exceed_administrations(committed_db, demo, make_lot):
    """REA administered 2; two returns of 2 empty ampoules at once: one passes, one is refused."""
    pharmacist = get_user_model().objects.get(username="pharmacist")
    lot = make_lot(units=5, batch="RACE-EMPTY")
    rea = location(lot, "REA")
    ops.transfer_create(actor=pharmacist, lot=lot, source=location(lot, "VAULT"), destination=rea, quantity=2)
    ops.administration_record(actor=pharmacist, lot=lot, ward=rea, quantity=2, patient_name="DUPONT Jean")
    mine = Lot.objects.select_related("product", "establishment").get(pk=lot.pk)
    outcomes = _race(lambda: ops.ward_return_record(actor=pharmacist, lot=mine, ward=rea, kind="used", quantity=2))
    assert outcomes == ["empty_returns_exceed_administrations", "ok"]
    assert WardReturn.objects.filter(lot=lot).count() == 1
    assert register_verify(demo["DEMO"]).ok
