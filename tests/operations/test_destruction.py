"""Destruction of out-of-use stock (arrêté du 12 mars 2013 art. 7): quarantine, notice, witness, PV."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone
from pypdf import PdfReader

from audit.models import AuditEvent
from config.errors import DomainError
from operations import services as ops
from operations.models import DestructionRecord
from register.models import Movement
from register.selectors import register_verify
from tests.conftest import PASSWORD
from tests.operations.helpers import exit_line, location, on_hand


def _notice(days_ago: int = 31) -> str:
    return (timezone.localdate() - dt.timedelta(days=days_ago)).isoformat()


def _body(lot: Any, quantity: int = 4, **overrides: Any) -> dict[str, Any]:
    body = {
        "lots": [{"lot": lot.pk, "quantity": quantity}],
        "inspector_notified_on": _notice(),
        "inspector_name": "Dr Inspecteur, ARS Île-de-France",
        "witness_username": "pharmacist2",
        "witness_password": PASSWORD,
    }
    body.update(overrides)
    return body


@pytest.fixture
def quarantined(pharmacist: Any, make_lot: Any) -> Any:
    lot = make_lot(units=10, batch="PERIME-1")
    return ops.lot_quarantine(actor=pharmacist, lot=lot, reason="Périmé")


def test_a_pharmacist_puts_a_lot_in_quarantine(api, pharmacist, make_lot):
    """POST /lots/{id}/quarantine/ marks the lot; a second time is refused."""
    lot = make_lot(units=3, batch="Q-1")
    answer = api(pharmacist).post(f"/api/v1/lots/{lot.pk}/quarantine/", {"reason": "Périmé"}, format="json")
    assert answer.status_code == 200 and answer.json()["quarantined"] is True
    again = api(pharmacist).post(f"/api/v1/lots/{lot.pk}/quarantine/", {"reason": "Périmé"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "lot_already_quarantined"


def test_quarantine_needs_a_reason_and_a_pharmacist(api, technician, pharmacist, make_lot):
    """Without a reason: 400; a technician: 403."""
    lot = make_lot(units=3, batch="Q-2")
    assert api(pharmacist).post(f"/api/v1/lots/{lot.pk}/quarantine/", {}, format="json").status_code == 400
    assert api(technician).post(f"/api/v1/lots/{lot.pk}/quarantine/", {"reason": "x"}, format="json").status_code == 403


def test_a_quarantined_lot_has_no_exit_but_destruction(pharmacist, quarantined):
    """A loss or a transfer out of a quarantined lot is refused (lot_quarantined)."""
    with pytest.raises(DomainError) as refused:
        exit_line(pharmacist, quarantined, 1)
    assert refused.value.code == "lot_quarantined"
    with pytest.raises(DomainError) as refused:
        ops.transfer_create(actor=pharmacist, lot=quarantined, source=location(quarantined, "VAULT"),
                            destination=location(quarantined, "REA"), quantity=1)
    assert refused.value.code == "lot_quarantined"


def test_it_destroys_before_a_witness_and_keeps_the_pv(api, pharmacist, demo, quarantined):
    """Exit lines with reason destruction, a PV PDF whose SHA-256 is stored, the chain verifies."""
    answer = api(pharmacist).post("/api/v1/destructions/", _body(quarantined, 4), format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    line = Movement.objects.get(pk=body["lines"][0]["movement"])
    assert (line.reason, line.direction, line.quantity) == ("destruction", "exit", 4)
    assert "pharmacist2" in line.counterparty and body["witness_name"].endswith("(pharmacist2)")
    assert on_hand(quarantined) == 6
    pdf = api(pharmacist).get(body["pv_url"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == body["pdf_sha256"]
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert body["reference"] in text and "PERIME-1" in text and "Paul Bernard" in text and "CHU Démo" in text
    assert register_verify(demo["DEMO"]).ok


def test_the_witness_password_is_never_kept(api, pharmacist, quarantined):
    """Neither the audit trail nor the record holds the witness's password."""
    api(pharmacist).post("/api/v1/destructions/", _body(quarantined), format="json")
    assert not any(PASSWORD in str(event.data) for event in AuditEvent.objects.all())


def test_it_refuses_a_lot_not_in_quarantine(api, pharmacist, lot_50):
    """Only quarantined stock is destroyed (lot_not_quarantined); nothing written."""
    answer = api(pharmacist).post("/api/v1/destructions/", _body(lot_50), format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "lot_not_quarantined"
    assert not Movement.objects.filter(reason="destruction").exists()


def test_it_refuses_a_notice_shorter_than_thirty_days(api, pharmacist, quarantined):
    """The inspector is notified at least 30 days before (destruction_notice_too_short)."""
    answer = api(pharmacist).post("/api/v1/destructions/", _body(quarantined, inspector_notified_on=_notice(29)), format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "destruction_notice_too_short"
    assert not DestructionRecord.objects.exists()


def test_the_notice_period_is_configurable(api, pharmacist, quarantined, settings):
    """With DESTRUCTION_NOTICE_DAYS = 10, a notice 12 days before is enough."""
    settings.KETAMINE_RULES = {**settings.KETAMINE_RULES, "DESTRUCTION_NOTICE_DAYS": 10}
    answer = api(pharmacist).post("/api/v1/destructions/", _body(quarantined, inspector_notified_on=_notice(12)), format="json")
    assert answer.status_code == 201


def test_it_refuses_a_notice_in_the_future(api, pharmacist, quarantined):
    """A notice dated tomorrow is bad input (400)."""
    answer = api(pharmacist).post("/api/v1/destructions/", _body(quarantined, inspector_notified_on=_notice(-1)), format="json")
    assert answer.status_code == 400


@pytest.mark.parametrize(
    ("username", "password", "code"),
    [
        ("pharmacist", PASSWORD, "witness_same_person"),
        ("pharmacist2", "wrong-password", "witness_authentication_failed"),
        ("nobody", PASSWORD, "witness_authentication_failed"),
        ("technician", PASSWORD, "witness_not_pharmacist"),
        ("outsider", PASSWORD, "witness_not_pharmacist"),
    ],
)
def test_the_witness_is_a_second_authenticated_pharmacist(api, pharmacist, quarantined, username, password, code):
    """Not oneself, correct password, a pharmacist of this establishment; otherwise nothing written."""
    answer = api(pharmacist).post(
        "/api/v1/destructions/", _body(quarantined, witness_username=username, witness_password=password), format="json"
    )
    assert answer.status_code == 409 and answer.json()["code"] == code
    assert on_hand(quarantined) == 10 and not DestructionRecord.objects.exists()


def test_a_failed_witness_authentication_is_audited(api, pharmacist, quarantined):
    """A wrong witness password leaves an audit event naming the account tried, not the password."""
    api(pharmacist).post("/api/v1/destructions/", _body(quarantined, witness_password="guess"), format="json")
    event = AuditEvent.objects.get(action="operations.destruction.witness_refused")
    assert event.actor_username == "pharmacist" and event.data == {"witness_username": "pharmacist2"}


def test_a_technician_cannot_destroy(api, technician, quarantined):
    """Destruction is the pharmacist's (DOMAIN.md §5)."""
    assert api(technician).post("/api/v1/destructions/", _body(quarantined), format="json").status_code == 403


def test_it_refuses_destroying_more_than_the_stock_and_leaves_nothing(api, pharmacist, demo, quarantined, make_lot):
    """Two lots, the second short: no line, no record, balances unchanged."""
    other = ops.lot_quarantine(actor=pharmacist, lot=make_lot(units=2, batch="PERIME-2"), reason="Périmé")
    body = _body(quarantined, lots=[{"lot": quarantined.pk, "quantity": 3}, {"lot": other.pk, "quantity": 5}])
    answer = api(pharmacist).post("/api/v1/destructions/", body, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "insufficient_stock"
    assert on_hand(quarantined) == 10 and on_hand(other) == 2
    assert not Movement.objects.filter(reason="destruction").exists() and not DestructionRecord.objects.exists()
    assert register_verify(demo["DEMO"]).ok


def test_the_destruction_record_is_append_only(api, pharmacist, quarantined):
    """UPDATE or DELETE of a PV (or its lines) is refused by the database."""
    record_id = api(pharmacist).post("/api/v1/destructions/", _body(quarantined), format="json").json()["id"]
    for statement in (
        "UPDATE operations_destructionrecord SET witness_name = 'x' WHERE id = %s",
        "DELETE FROM operations_destructionline WHERE destruction_id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [record_id])


def test_another_establishment_cannot_read_the_pv(api, pharmacist, outsider, inspector, quarantined):
    """OTHER's pharmacist gets 404; DEMO's inspector can read it."""
    record_id = api(pharmacist).post("/api/v1/destructions/", _body(quarantined), format="json").json()["id"]
    assert api(outsider).get(f"/api/v1/destructions/{record_id}/pv.pdf").status_code == 404
    assert api(inspector).get(f"/api/v1/destructions/{record_id}/pv.pdf").status_code == 200


def test_a_destruction_line_is_never_reversed(api, pharmacist, quarantined):
    """The PV certifies what was destroyed: reversing its line is destruction_final."""
    body = api(pharmacist).post("/api/v1/destructions/", _body(quarantined), format="json").json()
    answer = api(pharmacist).post(f"/api/v1/movements/{body['lines'][0]['movement']}/reverse/", {"reason": "x"}, format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "destruction_final"
