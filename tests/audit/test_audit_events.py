"""Each operation leaves exactly one audit event, written in the transaction of the change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from audit.models import AuditEvent
from register.models import Movement


def _receipt(client: Any, ctx: dict[str, Any]) -> Any:
    return client.post("/api/v1/movements/", {"direction": "entry", "reason": "receipt", "lot": ctx["lot"].pk,
                                              "quantity": 5, "counterparty": "Fournisseur"}, format="json")


def _loss_too_big(client: Any, ctx: dict[str, Any]) -> Any:
    return client.post("/api/v1/movements/", {"direction": "exit", "reason": "loss", "lot": ctx["lot"].pk,
                                              "quantity": 100_000, "counterparty": "casse"}, format="json")


def _reverse(client: Any, ctx: dict[str, Any]) -> Any:
    return client.post(f"/api/v1/movements/{ctx['line'].pk}/reverse/", {"reason": "erreur"}, format="json")


def _reverse_twice(client: Any, ctx: dict[str, Any]) -> Any:
    _reverse(client, ctx)
    ctx["before"] = AuditEvent.objects.count()  # only the second, refused, attempt is measured
    return _reverse(client, ctx)


def _lot(client: Any, ctx: dict[str, Any]) -> Any:
    return client.post("/api/v1/lots/", {"product": ctx["lot"].product_id, "batch_number": "AUD-1",
                                         "expires_on": (dt.date.today() + dt.timedelta(days=99)).isoformat()},
                       format="json")


def _lot_duplicate(client: Any, ctx: dict[str, Any]) -> Any:
    return client.post("/api/v1/lots/", {"product": ctx["lot"].product_id, "batch_number": ctx["lot"].batch_number,
                                         "expires_on": ctx["lot"].expires_on.isoformat()}, format="json")


def _verify(client: Any, ctx: dict[str, Any]) -> Any:
    return client.get("/api/v1/register/verify/")


def _revoke(client: Any, ctx: dict[str, Any]) -> Any:
    return client.post("/api/v1/auth/token/revoke/")


OPERATIONS: list[tuple[str, Callable[[Any, dict[str, Any]], Any], int, list[str]]] = [
    ("receipt", _receipt, 201, ["register.movement.recorded"]),
    ("refused exit", _loss_too_big, 409, []),
    ("reversal", _reverse, 201, ["register.movement.reversed"]),
    ("refused second reversal", _reverse_twice, 409, []),
    ("lot", _lot, 201, ["register.lot.created"]),
    ("refused duplicate lot", _lot_duplicate, 409, []),
    ("verification", _verify, 200, ["register.verified"]),
    ("token revocation", _revoke, 204, ["auth.token.revoked"]),
]


@pytest.mark.parametrize(("operation", "expected_status", "actions"),
                         [pytest.param(op, status, actions, id=name) for name, op, status, actions in OPERATIONS])
def test_each_operation_is_audited_exactly_once(api, pharmacist, lot_50, operation, expected_status, actions):
    """A success adds its one action, naming actor, role, establishment and origin; a refusal adds nothing."""
    line = Movement.objects.filter(lot=lot_50).order_by("number").first()
    ctx: dict[str, Any] = {"lot": lot_50, "line": line, "before": AuditEvent.objects.count()}
    response = operation(api(pharmacist), ctx)
    assert response.status_code == expected_status, response.content
    new = list(AuditEvent.objects.order_by("id")[ctx["before"]:])
    assert [event.action for event in new] == actions
    for event in new:
        assert event.actor == pharmacist and event.role == "pharmacist"
        assert event.ip_address == "127.0.0.1" and event.request_id == response["X-Request-ID"]
        if event.action.startswith("register."):
            assert event.establishment.code == "DEMO"


def test_the_line_and_its_event_commit_in_one_transaction(committed_db, api, pharmacist, lot_50):
    """Each register line shares its transaction id (xmin) with its audit event, and no other write."""
    client = api(pharmacist)
    ids = [_receipt(client, {"lot": lot_50}).json()["id"] for _ in range(2)]
    transactions = []
    with connection.cursor() as cursor:
        for line_id in ids:
            cursor.execute("SELECT xmin::text FROM register_movement WHERE id = %s", [line_id])
            line_xmin = cursor.fetchone()[0]
            cursor.execute(
                "SELECT xmin::text FROM audit_auditevent WHERE action = 'register.movement.recorded' AND object_id = %s",
                [str(line_id)],
            )
            assert cursor.fetchall() == [(line_xmin,)]
            transactions.append(line_xmin)
    assert transactions[0] != transactions[1]
