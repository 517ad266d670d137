"""Ward stock (arrêté du 31 mars 1999): transfers in pairs, administrations, returns, ward views."""

from __future__ import annotations

from typing import Any

import pytest

from operations import services as ops
from operations.models import NurseWardAssignment, WardReturn
from register.models import Movement
from register.selectors import register_verify
from tests.operations.helpers import location, on_hand


def _transfer(api: Any, user: Any, lot: Any, quantity: int, to: str, source: str = "VAULT") -> Any:
    return api(user).post("/api/v1/transfers/", {"lot": lot.pk, "quantity": quantity, "from": source, "to": to}, format="json")


@pytest.fixture
def rea_nurse(pharmacist: Any, nurse: Any, lot_50: Any) -> Any:
    ops.nurse_ward_assign(actor=pharmacist, nurse=nurse, ward=location(lot_50, "REA"))
    ops.transfer_create(actor=pharmacist, lot=lot_50, source=location(lot_50, "VAULT"),
                        destination=location(lot_50, "REA"), quantity=10)
    return nurse


def _administer(api: Any, user: Any, lot: Any, quantity: int = 1, ward: str = "REA", **overrides: Any) -> Any:
    body = {"lot": lot.pk, "ward": ward, "quantity": quantity, "patient_name": "DUPONT Jean",
            "patient_address": "3 rue des Fleurs, 75014 Paris", "prescriber_name": "Dr Antoine Durand"}
    body.update(overrides)
    return api(user).post("/api/v1/administrations/", body, format="json")


def test_a_transfer_to_a_ward_is_a_pair_of_lines(api, technician, demo, lot_50):
    """transfer_out at the vault, then transfer_in at the ward pointing at it, in one go."""
    answer = _transfer(api, technician, lot_50, 6, "REA")
    assert answer.status_code == 201, answer.json()
    out, into = answer.json()["transfer_out"], answer.json()["transfer_in"]
    assert (out["reason"], out["location"], out["direction"]) == ("transfer_out", "VAULT", "exit")
    assert (into["reason"], into["location"], into["direction"]) == ("transfer_in", "REA", "entry")
    assert into["paired_with"] == out["id"] and into["number"] == out["number"] + 1
    assert on_hand(lot_50, "VAULT") == 34 and on_hand(lot_50, "REA") == 6
    assert register_verify(demo["DEMO"]).ok


def test_a_return_from_a_ward_is_a_pair_too(api, pharmacist, demo, lot_50):
    """Ward -> vault is also transfer_out + transfer_in."""
    _transfer(api, pharmacist, lot_50, 6, "REA")
    answer = _transfer(api, pharmacist, lot_50, 2, "VAULT", source="REA")
    assert answer.status_code == 201
    assert on_hand(lot_50, "VAULT") == 36 and on_hand(lot_50, "REA") == 4
    assert register_verify(demo["DEMO"]).ok


@pytest.mark.parametrize(("source", "to"), [("VAULT", "VAULT"), ("REA", "BRULES"), ("REA", "REA")])
def test_a_transfer_goes_between_the_vault_and_a_ward(api, pharmacist, lot_50, source, to):
    """Vault to vault, ward to ward: transfer_route_invalid."""
    answer = _transfer(api, pharmacist, lot_50, 1, to, source=source)
    assert answer.status_code == 409 and answer.json()["code"] == "transfer_route_invalid"


def test_a_transfer_beyond_the_stock_writes_neither_line(api, pharmacist, demo, lot_50):
    """41 units out of 40: insufficient_stock, no transfer_out left behind."""
    answer = _transfer(api, pharmacist, lot_50, 41, "REA")
    assert answer.status_code == 409 and answer.json()["code"] == "insufficient_stock"
    assert not Movement.objects.filter(reason__in=["transfer_out", "transfer_in"]).exists()
    assert register_verify(demo["DEMO"]).ok


def test_a_nurse_cannot_move_pharmacy_stock(api, nurse, lot_50):
    """Transfers and direct movements are pharmacy work: 403 for a nurse."""
    assert _transfer(api, nurse, lot_50, 1, "REA").status_code == 403
    direct = {"direction": "exit", "reason": "loss", "lot": lot_50.pk, "quantity": 1}
    assert api(nurse).post("/api/v1/movements/", direct, format="json").status_code == 403


def test_another_establishments_ward_is_not_found(api, outsider, demo):
    """OTHER's pharmacist cannot name DEMO's ward: 404."""
    from register.models import Lot

    other_lot = Lot.objects.filter(establishment=demo["OTHER"]).first()
    assert _transfer(api, outsider, other_lot, 1, "REA").status_code == 404


def test_a_nurse_records_an_administration_from_her_ward(api, rea_nurse, demo, lot_50):
    """An exit line with reason administration at REA, the patient and prescriber frozen on it."""
    answer = _administer(api, rea_nurse, lot_50, 2)
    assert answer.status_code == 201, answer.json()
    line = answer.json()
    assert (line["reason"], line["location"], line["quantity"]) == ("administration", "REA", 2)
    assert line["patient_name"] == "DUPONT Jean" and line["prescriber_name"] == "Dr Antoine Durand"
    assert line["recorded_by"] == "nurse"
    assert on_hand(lot_50, "REA") == 8
    assert register_verify(demo["DEMO"]).ok


def test_a_nurse_acts_only_on_her_ward(api, rea_nurse, pharmacist, lot_50):
    """BRULES is not hers: 403 ward_not_assigned, even with stock there."""
    ops.transfer_create(actor=pharmacist, lot=lot_50, source=location(lot_50, "VAULT"),
                        destination=location(lot_50, "BRULES"), quantity=2)
    answer = _administer(api, rea_nurse, lot_50, 1, ward="BRULES")
    assert answer.status_code == 403 and answer.json()["code"] == "ward_not_assigned"


def test_an_unassigned_nurse_acts_on_no_ward(api, nurse, pharmacist, lot_50):
    """Without an assignment a nurse records nothing."""
    ops.transfer_create(actor=pharmacist, lot=lot_50, source=location(lot_50, "VAULT"),
                        destination=location(lot_50, "REA"), quantity=2)
    assert _administer(api, nurse, lot_50).json()["code"] == "ward_not_assigned"


def test_an_administration_needs_a_patient_and_ward_stock(api, rea_nurse, lot_50):
    """No patient: 400; more than the ward holds: insufficient_stock; from the vault: not_a_ward."""
    assert _administer(api, rea_nurse, lot_50, patient_name="").status_code == 400
    assert _administer(api, rea_nurse, lot_50, 11).json()["code"] == "insufficient_stock"
    assert _administer(api, rea_nurse, lot_50, ward="VAULT").json()["code"] == "not_a_ward"


def test_unused_ampoules_go_back_to_the_vault_as_a_pair(api, rea_nurse, demo, lot_50):
    """A return of unused ampoules writes ward transfer_out + vault transfer_in."""
    answer = api(rea_nurse).post("/api/v1/ward-returns/", {"lot": lot_50.pk, "ward": "REA", "kind": "unused", "quantity": 3}, format="json")
    assert answer.status_code == 201, answer.json()
    ward_return = WardReturn.objects.get(pk=answer.json()["id"])
    assert ward_return.transfer_in.paired_with_id == ward_return.transfer_out_id
    assert on_hand(lot_50, "REA") == 7 and on_hand(lot_50, "VAULT") == 33
    assert register_verify(demo["DEMO"]).ok


def test_empty_ampoules_returned_cannot_exceed_administrations(api, rea_nurse, demo, lot_50):
    """Used ampoules are traced without a stock line, up to what the ward administered."""
    _administer(api, rea_nurse, lot_50, 2)
    body = {"lot": lot_50.pk, "ward": "REA", "kind": "used", "quantity": 2}
    assert api(rea_nurse).post("/api/v1/ward-returns/", body, format="json").status_code == 201
    again = api(rea_nurse).post("/api/v1/ward-returns/", {**body, "quantity": 1}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "empty_returns_exceed_administrations"
    assert on_hand(lot_50, "REA") == 8
    assert register_verify(demo["DEMO"]).ok


def test_each_ward_has_its_own_register_view_and_balance(api, rea_nurse, pharmacist, inspector, lot_50):
    """/wards/REA/ shows REA's lines and stock; the register filter ?location=REA agrees."""
    _administer(api, rea_nurse, lot_50, 1)
    stock = api(rea_nurse).get("/api/v1/wards/REA/stock/").json()["results"]
    assert [(row["location"], row["lot"], row["on_hand"]) for row in stock] == [("REA", lot_50.pk, 9)]
    lines = api(rea_nurse).get("/api/v1/wards/REA/movements/").json()["results"]
    assert [line["reason"] for line in lines] == ["transfer_in", "administration"]
    register = api(inspector).get("/api/v1/movements/?location=REA").json()["results"]
    assert [line["id"] for line in register] == [line["id"] for line in lines]
    assert ("REA", 9) in {(row["location"], row["on_hand"]) for row in api(pharmacist).get("/api/v1/stock/").json()["results"]}


def test_a_nurse_cannot_read_another_wards_view(api, rea_nurse):
    """BRULES is not hers: 404."""
    assert api(rea_nurse).get("/api/v1/wards/BRULES/stock/").status_code == 404


def test_only_a_pharmacist_assigns_a_nurse_to_a_ward(api, pharmacist, technician, nurse, demo):
    """POST /ward-assignments/ by a pharmacist; a technician is refused; a non-nurse cannot be assigned."""
    body = {"nurse": "nurse", "ward": "URG"}
    assert api(technician).post("/api/v1/ward-assignments/", body, format="json").status_code == 403
    assert api(pharmacist).post("/api/v1/ward-assignments/", body, format="json").status_code == 201
    assert NurseWardAssignment.objects.filter(nurse=nurse, ward__code="URG").exists()
    answer = api(pharmacist).post("/api/v1/ward-assignments/", {"nurse": "technician", "ward": "URG"}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "not_a_nurse"


def test_a_transfer_is_reversed_as_a_pair(api, pharmacist, demo, lot_50):
    """POST /transfers/{id}/reverse/ on either half writes two reversal lines; balances come back."""
    pair = _transfer(api, pharmacist, lot_50, 5, "REA").json()
    answer = api(pharmacist).post(f"/api/v1/transfers/{pair['transfer_in']['id']}/reverse/", {"reason": "Mauvais service"}, format="json")
    assert answer.status_code == 201, answer.json()
    undo_in, undo_out = answer.json()
    assert (undo_in["reverses"], undo_in["location"], undo_in["direction"]) == (pair["transfer_in"]["id"], "REA", "exit")
    assert (undo_out["reverses"], undo_out["location"], undo_out["direction"]) == (pair["transfer_out"]["id"], "VAULT", "entry")
    assert on_hand(lot_50, "REA") == 0 and on_hand(lot_50, "VAULT") == 40
    again = api(pharmacist).post(f"/api/v1/transfers/{pair['transfer_out']['id']}/reverse/", {"reason": "x"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reversed"
    assert register_verify(demo["DEMO"]).ok


def test_half_a_transfer_is_never_reversed_alone(api, pharmacist, lot_50):
    """The single-line reversal refuses a transfer half (transfer_pair_reversal)."""
    pair = _transfer(api, pharmacist, lot_50, 5, "REA").json()
    for half in ("transfer_out", "transfer_in"):
        answer = api(pharmacist).post(f"/api/v1/movements/{pair[half]['id']}/reverse/", {"reason": "x"}, format="json")
        assert answer.status_code == 409 and answer.json()["code"] == "transfer_pair_reversal"
    assert not Movement.objects.filter(reason="reversal").exists()


def test_a_transfer_whose_units_were_used_cannot_be_reversed(api, rea_nurse, pharmacist, demo, lot_50):
    """REA administered 3 of the 10 transferred: reversing the transfer is insufficient_stock, nothing written."""
    _administer(api, rea_nurse, lot_50, 3)
    into = Movement.objects.get(reason="transfer_in", location__code="REA")
    answer = api(pharmacist).post(f"/api/v1/transfers/{into.pk}/reverse/", {"reason": "x"}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "insufficient_stock"
    assert not Movement.objects.filter(reason="reversal").exists()
    assert register_verify(demo["DEMO"]).ok


def test_only_transfer_lines_are_reversed_as_transfers(api, pharmacist, technician, lot_50):
    """A receipt is not_a_transfer; a technician may not reverse (403)."""
    receipt = Movement.objects.get(lot=lot_50, reason="receipt")
    answer = api(pharmacist).post(f"/api/v1/transfers/{receipt.pk}/reverse/", {"reason": "x"}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "not_a_transfer"
    assert api(technician).post(f"/api/v1/transfers/{receipt.pk}/reverse/", {"reason": "x"}, format="json").status_code == 403
