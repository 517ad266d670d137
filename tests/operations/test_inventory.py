"""Inventory (R.5132-36): blind count, variances with reasons, pharmacist validation, frozen after."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction

from config.errors import DomainError
from operations import services as ops
from operations.models import InventoryCount, InventoryCountLine
from register.models import Lot, Movement
from register.selectors import register_verify
from tests.operations.helpers import exit_line, location, on_hand


def _open(api: Any, user: Any, code: str = "VAULT") -> dict[str, Any]:
    answer = api(user).post("/api/v1/inventories/", {"location": code}, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


def _count_all(api: Any, user: Any, count: dict[str, Any], figures: dict[int, int]) -> None:
    for line in count["lines"]:
        lot = Lot.objects.get(pk=line["lot"])
        counted = figures.get(lot.pk, on_hand(lot))
        answer = api(user).post(f"/api/v1/inventories/{count['id']}/lines/", {"lot": lot.pk, "counted": counted}, format="json")
        assert answer.status_code == 200, answer.json()


def test_the_count_is_blind_until_submitted(api, technician, lot_50):
    """While open, lines show no expected figure nor variance; after submission they do."""
    count = _open(api, technician)
    assert {line["lot"] for line in count["lines"]} == set(
        Lot.objects.filter(establishment=lot_50.establishment).values_list("pk", flat=True)
    )
    assert all(line["expected"] is None and line["variance"] is None for line in count["lines"])
    _count_all(api, technician, count, {lot_50.pk: 37})
    lines = api(technician).get(f"/api/v1/inventories/{count['id']}/lines/").json()
    assert all(line["expected"] is None for line in lines)
    submitted = api(technician).post(f"/api/v1/inventories/{count['id']}/submit/").json()
    line = next(line for line in submitted["lines"] if line["lot"] == lot_50.pk)
    assert submitted["status"] == "submitted" and line["expected"] == 40 and line["variance"] == -3


def test_a_pharmacist_validates_and_variances_become_adjustment_lines(api, technician, pharmacist, demo, lot_50, make_lot):
    """One adjustment line per variance (exit for a shortfall, entry for a surplus), balances = counted."""
    surplus = make_lot(units=5, batch="SURPLUS")
    count = _open(api, technician)
    _count_all(api, technician, count, {lot_50.pk: 37, surplus.pk: 6})
    api(technician).post(f"/api/v1/inventories/{count['id']}/submit/")
    for lot, reason in ((lot_50, "Ampoule cassée non déclarée"), (surplus, "Retour de service non saisi")):
        answer = api(technician).post(f"/api/v1/inventories/{count['id']}/lines/", {"lot": lot.pk, "reason": reason}, format="json")
        assert answer.status_code == 200 and answer.json()["reason"] == reason
    answer = api(pharmacist).post(f"/api/v1/inventories/{count['id']}/validate/")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["status"] == "validated" and answer.json()["validated_by"] == "pharmacist"
    adjustments = Movement.objects.filter(reason="adjustment").order_by("number")
    assert {(m.lot_id, m.direction, m.quantity) for m in adjustments} == {(lot_50.pk, "exit", 3), (surplus.pk, "entry", 1)}
    assert on_hand(lot_50) == 37 and on_hand(surplus) == 6
    assert InventoryCount.objects.get(pk=count["id"]).register_number == adjustments.last().number
    assert register_verify(demo["DEMO"]).ok


def test_a_technician_cannot_validate(api, technician, lot_50):
    """Validation is the pharmacist's: a technician gets 403 and nothing is posted."""
    count = _open(api, technician)
    _count_all(api, technician, count, {})
    api(technician).post(f"/api/v1/inventories/{count['id']}/submit/")
    answer = api(technician).post(f"/api/v1/inventories/{count['id']}/validate/")
    assert answer.status_code == 403
    assert InventoryCount.objects.get(pk=count["id"]).status == "submitted"


def test_the_service_also_refuses_a_technician(technician, lot_50):
    """Called directly, inventory_validate refuses a non-pharmacist (pharmacist_required)."""
    count = ops.inventory_open(actor=technician, location=location(lot_50, "VAULT"))
    with pytest.raises(DomainError) as refused:
        ops.inventory_validate(actor=technician, count=count)
    assert refused.value.code == "pharmacist_required"


def test_every_variance_needs_a_reason(api, technician, pharmacist, lot_50):
    """A variance without a reason blocks validation (variance_reason_required), nothing posted."""
    count = _open(api, technician)
    _count_all(api, technician, count, {lot_50.pk: 39})
    api(technician).post(f"/api/v1/inventories/{count['id']}/submit/")
    answer = api(pharmacist).post(f"/api/v1/inventories/{count['id']}/validate/")
    assert answer.status_code == 409 and answer.json()["code"] == "variance_reason_required"
    assert not Movement.objects.filter(reason="adjustment").exists()


def test_it_refuses_to_submit_an_incomplete_count(api, technician, lot_50):
    """Every listed lot must be counted before submission (count_incomplete)."""
    count = _open(api, technician)
    answer = api(technician).post(f"/api/v1/inventories/{count['id']}/submit/")
    assert answer.status_code == 409 and answer.json()["code"] == "count_incomplete"


def test_one_count_in_progress_per_location(api, technician, lot_50):
    """A second count of the same location is refused while the first is not validated."""
    _open(api, technician)
    answer = api(technician).post("/api/v1/inventories/", {"location": "VAULT"}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "inventory_in_progress"


def test_counted_figures_are_frozen_once_submitted(api, technician, lot_50):
    """After submission a counted figure cannot change without re-opening (inventory_submitted)."""
    count = _open(api, technician)
    _count_all(api, technician, count, {})
    api(technician).post(f"/api/v1/inventories/{count['id']}/submit/")
    answer = api(technician).post(f"/api/v1/inventories/{count['id']}/lines/", {"lot": lot_50.pk, "counted": 1}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "inventory_submitted"


def test_it_refuses_to_validate_when_the_stock_moved_since_the_count(api, technician, pharmacist, demo, lot_50):
    """A line written after submission changes the expected figure: refused, then re-open and recount."""
    count = _open(api, technician)
    _count_all(api, technician, count, {})
    api(technician).post(f"/api/v1/inventories/{count['id']}/submit/")
    exit_line(pharmacist, lot_50, 1)
    answer = api(pharmacist).post(f"/api/v1/inventories/{count['id']}/validate/")
    assert answer.status_code == 409 and answer.json()["code"] == "stock_moved_since_count"
    assert api(technician).post(f"/api/v1/inventories/{count['id']}/reopen/").json()["status"] == "open"
    _count_all(api, technician, count, {})
    api(technician).post(f"/api/v1/inventories/{count['id']}/submit/")
    assert api(pharmacist).post(f"/api/v1/inventories/{count['id']}/validate/").status_code == 200
    assert not Movement.objects.filter(reason="adjustment").exists()
    assert register_verify(demo["DEMO"]).ok


def _validated(api: Any, technician: Any, pharmacist: Any) -> int:
    count = _open(api, technician)
    _count_all(api, technician, count, {})
    api(technician).post(f"/api/v1/inventories/{count['id']}/submit/")
    assert api(pharmacist).post(f"/api/v1/inventories/{count['id']}/validate/").status_code == 200
    return count["id"]


def test_a_validated_count_cannot_change_through_the_api(api, technician, pharmacist, lot_50):
    """Lines, submission, re-opening and validation of a validated count are all refused."""
    count_id = _validated(api, technician, pharmacist)
    line = api(technician).post(f"/api/v1/inventories/{count_id}/lines/", {"lot": lot_50.pk, "reason": "x"}, format="json")
    assert line.status_code == 409 and line.json()["code"] == "inventory_validated"
    for action in ("submit", "reopen", "validate"):
        assert api(pharmacist).post(f"/api/v1/inventories/{count_id}/{action}/").status_code == 409


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE operations_inventorycount SET note = 'changed' WHERE id = %s",
        "UPDATE operations_inventorycount SET status = 'open' WHERE id = %s",
        "DELETE FROM operations_inventorycount WHERE id = %s",
        "UPDATE operations_inventorycountline SET counted = counted + 1 WHERE count_id = %s",
        "DELETE FROM operations_inventorycountline WHERE count_id = %s",
    ],
)
def test_the_database_refuses_to_change_a_validated_count(api, technician, pharmacist, lot_50, statement):
    """The trigger refuses UPDATE and DELETE on a validated count and its lines, whoever asks."""
    count_id = _validated(api, technician, pharmacist)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [count_id])


def test_the_database_refuses_a_new_line_on_a_validated_count(api, technician, pharmacist, make_lot):
    """An INSERT of a line into a validated count is refused too."""
    count_id = _validated(api, technician, pharmacist)
    lot = make_lot(units=0, batch="LATE")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        InventoryCountLine.objects.create(count_id=count_id, lot=lot, counted=1)


def test_the_database_refuses_skipping_the_review(technician, lot_50):
    """open -> validated directly is not a transition the trigger allows."""
    count = ops.inventory_open(actor=technician, location=location(lot_50, "VAULT"))
    with pytest.raises(DatabaseError, match="transition"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE operations_inventorycount SET status = 'validated', validated_by_id = %s, validated_at = now(), "
            "register_number = 1 WHERE id = %s",
            [technician.pk, count.pk],
        )


def test_a_ward_is_counted_on_its_own(api, technician, pharmacist, demo, lot_50):
    """A count of REA lists the lots at REA only and adjusts REA's balance."""
    from operations.services import transfer_create

    transfer_create(actor=pharmacist, lot=lot_50, source=location(lot_50, "VAULT"), destination=location(lot_50, "REA"), quantity=5)
    count = _open(api, technician, "REA")
    assert [line["lot"] for line in count["lines"]] == [lot_50.pk]
    _count_all(api, technician, count, {lot_50.pk: 4})
    api(technician).post(f"/api/v1/inventories/{count['id']}/submit/")
    api(technician).post(f"/api/v1/inventories/{count['id']}/lines/", {"lot": lot_50.pk, "reason": "Ampoule brisée"}, format="json")
    assert api(pharmacist).post(f"/api/v1/inventories/{count['id']}/validate/").status_code == 200
    assert on_hand(lot_50, "REA") == 4 and on_hand(lot_50, "VAULT") == 35
    assert register_verify(demo["DEMO"]).ok


def test_another_establishment_cannot_see_or_touch_a_count(api, technician, outsider, lot_50):
    """A count of DEMO answers 404 to OTHER's pharmacist."""
    count = _open(api, technician)
    assert api(outsider).get(f"/api/v1/inventories/{count['id']}/").status_code == 404
    assert api(outsider).post(f"/api/v1/inventories/{count['id']}/validate/").status_code == 404
    assert api(outsider).get("/api/v1/inventories/").json()["count"] == 0


def test_nurses_and_prescribers_cannot_count(api, nurse, prescriber, lot_50):
    """Counting is pharmacy work (DOMAIN.md §5)."""
    for user in (nurse, prescriber):
        assert api(user).post("/api/v1/inventories/", {"location": "VAULT"}, format="json").status_code == 403
