"""Reversal (R.5132-36: a correction is a new line pointing at the one it corrects)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction

from config.errors import DomainError, InvalidInput
from operations import services as ops
from register import services
from register.models import Lot, Movement
from register.selectors import register_verify
from tests.operations.helpers import entry_line, exit_line, on_hand


def test_it_requires_a_reason(pharmacist, lot_50):
    """A reversal without a reason is refused, nothing written."""
    line = exit_line(pharmacist, lot_50, 2)
    with pytest.raises(InvalidInput):
        services.movement_reverse(actor=pharmacist, movement=line, reason="  ")
    assert not Movement.objects.filter(reverses=line).exists()


def test_it_refuses_a_reversal_without_reason_over_http(api, pharmacist, lot_50):
    """POST /reverse/ without a reason answers 400 validation_error."""
    line = exit_line(pharmacist, lot_50, 2)
    answer = api(pharmacist).post(f"/api/v1/movements/{line.pk}/reverse/", {}, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "validation_error"


def test_it_writes_the_opposite_line_and_restores_the_balance(pharmacist, demo, lot_50):
    """The reversal is an entry for an exit, points at it, and the chain verifies."""
    line = exit_line(pharmacist, lot_50, 3)
    reversal = services.movement_reverse(actor=pharmacist, movement=line, reason="Erreur de saisie")
    assert reversal.direction == "entry" and reversal.reverses_id == line.pk and reversal.reason == "reversal"
    assert on_hand(lot_50) == 40
    assert register_verify(demo["DEMO"]).ok


def test_a_line_is_reversed_at_most_once(pharmacist, lot_50):
    """The second reversal of the same line is refused with already_reversed."""
    line = exit_line(pharmacist, lot_50, 1)
    services.movement_reverse(actor=pharmacist, movement=line, reason="Erreur")
    with pytest.raises(DomainError) as refused:
        services.movement_reverse(actor=pharmacist, movement=line, reason="Encore")
    assert refused.value.code == "already_reversed"


def test_the_database_refuses_a_second_reversal_of_a_line(pharmacist, lot_50):
    """Bypassing the service, the unique constraint on ``reverses`` still refuses a second one."""
    line = exit_line(pharmacist, lot_50, 1)
    services.movement_reverse(actor=pharmacist, movement=line, reason="Erreur")
    with pytest.raises(IntegrityError), transaction.atomic():
        services.movement_record(
            actor=pharmacist, lot=lot_50, direction="entry", reason="reversal", quantity=1, reverses=line
        )


def test_a_reversal_is_never_reversed(pharmacist, api, lot_50):
    """Reversing a reversal answers 409 reversal_of_reversal."""
    line = exit_line(pharmacist, lot_50, 1)
    reversal = services.movement_reverse(actor=pharmacist, movement=line, reason="Erreur")
    answer = api(pharmacist).post(f"/api/v1/movements/{reversal.pk}/reverse/", {"reason": "x"}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "reversal_of_reversal"


def test_it_refuses_a_reversal_that_would_make_a_balance_negative(pharmacist, demo, make_lot):
    """Reversing a receipt whose units have already left is insufficient_stock; nothing written."""
    lot = make_lot(units=5, batch="NEG-1")
    receipt = Movement.objects.get(lot=lot, reason="receipt")
    exit_line(pharmacist, lot, 4)
    with pytest.raises(DomainError) as refused:
        services.movement_reverse(actor=pharmacist, movement=receipt, reason="Mauvais lot")
    assert refused.value.code == "insufficient_stock"
    assert on_hand(lot) == 1 and not Movement.objects.filter(reverses=receipt).exists()
    assert register_verify(demo["DEMO"]).ok


def _validated_count(actor: Any, lot: Lot, counted: int, reason: str = "") -> Any:
    from register.models import Location

    vault = Location.objects.get(establishment=lot.establishment, code="VAULT")
    count = ops.inventory_open(actor=actor, location=vault)
    for line in count.lines.select_related("lot"):
        ops.inventory_line_set(actor=actor, count=count, lot=line.lot,
                               counted=counted if line.lot_id == lot.pk else on_hand(line.lot), reason=reason or None)
    ops.inventory_submit(actor=actor, count=count)
    return ops.inventory_validate(actor=actor, count=count)


def test_it_refuses_a_reversal_before_a_later_validated_inventory(pharmacist, api, demo, lot_50):
    """A line covered by a validated count of its lot cannot be reversed (inventory_validated_after)."""
    line = exit_line(pharmacist, lot_50, 2)
    _validated_count(pharmacist, lot_50, counted=38)
    answer = api(pharmacist).post(f"/api/v1/movements/{line.pk}/reverse/", {"reason": "Erreur"}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "inventory_validated_after"
    assert not Movement.objects.filter(reverses=line).exists()


def test_a_line_after_the_inventory_can_still_be_reversed(pharmacist, demo, lot_50):
    """Only lines up to the count are frozen; a line written after it can be reversed."""
    _validated_count(pharmacist, lot_50, counted=40)
    later = exit_line(pharmacist, lot_50, 1)
    services.movement_reverse(actor=pharmacist, movement=later, reason="Erreur")
    assert on_hand(lot_50) == 40
    assert register_verify(demo["DEMO"]).ok


def test_two_simultaneous_reversals_of_one_line_exactly_one_succeeds(committed_db, demo, make_lot):
    """Two threads reverse the same line at once: one reversal line, one already_reversed."""
    lot = make_lot(units=10, batch="RACE-REV")
    actor = get_user_model().objects.get(username="pharmacist")
    line = exit_line(actor, lot, 4)
    outcomes: list[str] = []
    guard = threading.Lock()
    start = threading.Barrier(2)

    def worker() -> None:
        try:
            mine = Movement.objects.select_related("lot__product", "lot__establishment", "location").get(pk=line.pk)
            start.wait()
            try:
                services.movement_reverse(actor=actor, movement=mine, reason="Erreur de saisie")
                outcome = "ok"
            except DomainError as refused:
                outcome = refused.code
            except IntegrityError:
                outcome = "integrity_error"
            with guard:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_reversed", "ok"]
    assert Movement.objects.filter(reverses=line).count() == 1
    assert on_hand(lot) == 10
    assert register_verify(demo["DEMO"]).ok


def test_an_entry_line_is_reversed_by_an_exit(pharmacist, make_lot):
    """An over-counted receipt is corrected by an exit line of the same quantity."""
    lot = make_lot(units=0, batch="ENTRY-REV")
    receipt = entry_line(pharmacist, lot, 6)
    reversal = services.movement_reverse(actor=pharmacist, movement=receipt, reason="Livraison comptée deux fois")
    assert reversal.direction == "exit" and on_hand(lot) == 0
