"""The workflows' API: who may call what (DOMAIN.md §5), no 500 for any input, every write audited."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent

PERSONAS = ["pharmacist", "technician", "prescriber", "inspector", "nurse"]
READERS = {"pharmacist", "technician", "inspector"}

# (method, path, roles that get past the permission check)
MATRIX = [
    ("get", "/api/v1/inventories/", READERS),
    ("post", "/api/v1/inventories/", {"pharmacist", "technician"}),
    ("post", "/api/v1/inventories/999999/lines/", {"pharmacist", "technician"}),
    ("post", "/api/v1/inventories/999999/submit/", {"pharmacist", "technician"}),
    ("post", "/api/v1/inventories/999999/validate/", {"pharmacist"}),
    ("post", "/api/v1/lots/999999/quarantine/", {"pharmacist"}),
    ("get", "/api/v1/destructions/", READERS),
    ("post", "/api/v1/destructions/", {"pharmacist"}),
    ("get", "/api/v1/destructions/999999/pv.pdf", READERS),
    ("get", "/api/v1/theft-loss-reports/", READERS),
    ("post", "/api/v1/theft-loss-reports/", {"pharmacist"}),
    ("post", "/api/v1/theft-loss-reports/999999/steps/", {"pharmacist"}),
    ("post", "/api/v1/transfers/", {"pharmacist", "technician"}),
    ("post", "/api/v1/transfers/999999/reverse/", {"pharmacist"}),
    ("post", "/api/v1/administrations/", {"pharmacist", "nurse"}),
    ("get", "/api/v1/ward-returns/", READERS | {"nurse"}),
    ("post", "/api/v1/ward-returns/", {"pharmacist", "technician", "nurse"}),
    ("post", "/api/v1/ward-assignments/", {"pharmacist"}),
    ("get", "/api/v1/wards/REA/stock/", READERS | {"nurse"}),
    ("get", "/api/v1/wards/REA/movements/", READERS | {"nurse"}),
]


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize(("method", "path", "allowed"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX])
def test_permission_matrix(api, demo, persona, method, path, allowed):
    """A role not listed for the endpoint gets 403; a listed one gets past the permission check."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=persona)
    answer = getattr(api(user), method)(path, {}, format="json") if method == "post" else api(user).get(path)
    if persona in allowed:
        assert answer.status_code != 403 and answer.status_code < 500
    else:
        assert answer.status_code == 403 and answer.json()["code"] == "permission_denied"


@pytest.mark.parametrize("path", [path for method, path, _ in MATRIX if method == "post"])
def test_anonymous_callers_are_refused(api, demo, path):
    """No token, no write."""
    assert api(None).post(path, {}, format="json").status_code in (401, 403)


GARBAGE = [
    {"lot": "abc", "quantity": 1},
    {"lot": 2**70, "quantity": 2**70},
    {"lot": -1, "quantity": -5, "to": "REA"},
    {"lot": 1, "quantity": 1, "to": ["REA"], "from": {"x": 1}},
    {"lots": "everything", "inspector_notified_on": "yesterday"},
    {"lots": [{"lot": None}], "witness_username": 12, "witness_password": None},
    {"kind": "robbery", "step": "fbi", "done_at": "soon", "ward": "\x00"},
    {"location": "NOWHERE", "counted": -1, "reason": {"a": 1}},
    [1, 2, 3],
    "just a string",
]


@pytest.mark.parametrize("body", GARBAGE)
def test_no_input_gives_a_500(api, pharmacist, lot_50, body):
    """Every POST endpoint answers bad input with a 4xx in the API.md error format."""
    for _method, path, _allowed in (entry for entry in MATRIX if entry[0] == "post"):
        answer = api(pharmacist).post(path.replace("999999", "1"), body, format="json")
        assert 400 <= answer.status_code < 500 or answer.status_code == 201, (path, answer.status_code)
        if answer.status_code != 201:
            assert "code" in answer.json() and "detail" in answer.json()


def test_every_workflow_write_is_audited(api, pharmacist, technician, nurse, lot_50):
    """Transfers, assignments, administrations and counts leave audit events in their transaction."""
    api(technician).post("/api/v1/transfers/", {"lot": lot_50.pk, "quantity": 2, "to": "REA"}, format="json")
    api(pharmacist).post("/api/v1/ward-assignments/", {"nurse": "nurse", "ward": "REA"}, format="json")
    api(nurse).post("/api/v1/administrations/", {"lot": lot_50.pk, "ward": "REA", "quantity": 1, "patient_name": "X Y"}, format="json")
    api(technician).post("/api/v1/inventories/", {"location": "REA"}, format="json")
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "operations.transfer.recorded", "operations.ward.nurse_assigned",
        "operations.ward.administration", "operations.inventory.opened",
    } <= actions
