"""The permission matrix: every persona x every /api/v1/ endpoint and method, with its status.

Adding an endpoint under /api/v1/ without an entry here fails ``test_every_api_endpoint_is_in_the_matrix``.
To add one: a key with the route as Django writes it (``api/v1/things/<int:pk>/``), then per
method a ``Case`` whose ``expect(...)`` names the status for each persona (the default first).
Object endpoints take their ``pk`` from the DEMO establishment: the outsider (a pharmacist of
OTHER) must get 404 there, never 403, so that existence does not leak.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from register.demo import demo_load
from register.models import Establishment, Lot, Movement, Product
from tests.conftest import PASSWORD, client_for

PERSONAS = ("pharmacist", "technician", "prescriber", "inspector", "nurse", "anonymous", "outsider")
OBJECT_MARK = "<"
MATRIX_SUPPLIER = "Fournisseur de la matrice"


@dataclass
class Ctx:
    """What a case needs to build its URL and body."""

    persona: str
    lot: Any
    line: Movement
    product: Any
    objects: dict[str, Any] = field(default_factory=dict)


@dataclass
class Case:
    expect: dict[str, int]
    body: Callable[[Ctx], dict[str, Any]] | None = None
    pk: Callable[[Ctx], int | str] | None = None
    extra: dict[str, str] = field(default_factory=dict)


def expect(default: int, **statuses: int) -> dict[str, int]:
    """A status per persona: ``default`` unless named (``anonymous=401`` ...)."""
    unknown = set(statuses) - set(PERSONAS)
    assert not unknown, f"unknown personas {unknown}"
    return {persona: statuses.get(persona, default) for persona in PERSONAS}


def _line(ctx: Ctx) -> int:
    return ctx.line.pk


def _credentials(ctx: Ctx) -> dict[str, Any]:
    if ctx.persona == "anonymous":
        return {"username": "nobody", "password": "wrong-password"}
    return {"username": ctx.persona, "password": PASSWORD}


READ_REGISTER = expect(403, pharmacist=200, technician=200, inspector=200, outsider=200, anonymous=401)
READ_REGISTER_OBJECT = expect(403, pharmacist=200, technician=200, inspector=200, outsider=404, anonymous=401)
PRESCRIPTION_READERS = expect(403, pharmacist=200, technician=200, prescriber=200, outsider=200, anonymous=401)
PRESCRIPTION_OBJECT_READERS = expect(403, pharmacist=200, technician=200, prescriber=200, outsider=404, anonymous=401)
NOT_OFFERED = expect(405, anonymous=401)
EXPORTERS = expect(403, pharmacist=200, inspector=200, outsider=200, anonymous=401)  # a register line is never modified nor deleted

MATRIX: dict[str, dict[str, Case]] = {
    "api/v1/auth/token/": {"POST": Case(expect(200, anonymous=400), body=_credentials)},
    "api/v1/auth/token/revoke/": {"POST": Case(expect(204, anonymous=401))},
    "api/v1/schema/": {"GET": Case(expect(200))},
    "api/v1/docs/": {"GET": Case(expect(200))},
    "api/v1/products/": {"GET": Case(expect(200, anonymous=401))},
    "api/v1/lots/": {
        "GET": Case(READ_REGISTER),
        "POST": Case(
            # The outsider creates the lot in OTHER, their own establishment.
            expect(403, pharmacist=201, technician=201, outsider=201, anonymous=401),
            body=lambda ctx: {"product": ctx.product.pk, "batch_number": "MATRIX-1",
                              "expires_on": (dt.date.today() + dt.timedelta(days=300)).isoformat()},
        ),
    },
    "api/v1/stock/": {"GET": Case(READ_REGISTER)},
    "api/v1/movements/": {
        "GET": Case(READ_REGISTER),
        "POST": Case(
            expect(403, pharmacist=201, technician=201, outsider=404, anonymous=401),
            body=lambda ctx: {"direction": "exit", "reason": "loss", "lot": ctx.lot.pk, "quantity": 1,
                              "counterparty": "casse"},
        ),
    },
    "api/v1/movements/<int:pk>/": {
        "GET": Case(expect(403, pharmacist=200, technician=200, inspector=200, outsider=404, anonymous=401), pk=_line),
        "PUT": Case(NOT_OFFERED, pk=_line, body=lambda ctx: {"quantity": 1}),
        "PATCH": Case(NOT_OFFERED, pk=_line, body=lambda ctx: {"quantity": 1}),
        "DELETE": Case(NOT_OFFERED, pk=_line),
    },
    "api/v1/movements/<int:pk>/reverse/": {
        "POST": Case(expect(403, pharmacist=201, outsider=404, anonymous=401), pk=_line,
                     body=lambda ctx: {"reason": "erreur de saisie"}),
    },
    "api/v1/register/verify/": {
        "GET": Case(expect(403, pharmacist=200, inspector=200, outsider=200, anonymous=401)),
    },
    "api/v1/audit/events/": {
        "GET": Case(expect(403, pharmacist=200, inspector=200, outsider=200, anonymous=401)),
    },
    # --- exports and monthly closings ---
    "api/v1/register/export.pdf": {"GET": Case(EXPORTERS)},
    "api/v1/register/export.csv": {"GET": Case(EXPORTERS)},
    "api/v1/register/closings/": {
        "GET": Case(READ_REGISTER),
        "POST": Case(expect(403, pharmacist=400, outsider=400, anonymous=401), body=lambda ctx: {}),
    },
    # --- operations (inventories, destructions, theft/loss, transfers, wards) ---
    # Writes with an empty body show the permission layer let the caller through (400); the
    # outsider meets a DEMO object first and gets 404.
    "api/v1/inventories/": {
        "GET": Case(READ_REGISTER),
        "POST": Case(expect(403, pharmacist=201, technician=201, outsider=404, anonymous=401),
                     body=lambda ctx: {"location": "REA"}),
    },
    "api/v1/inventories/<int:pk>/": {"GET": Case(READ_REGISTER_OBJECT, pk=lambda ctx: ctx.objects["inventory"])},
    "api/v1/inventories/<int:pk>/lines/": {
        "GET": Case(READ_REGISTER_OBJECT, pk=lambda ctx: ctx.objects["inventory"]),
        "POST": Case(expect(403, pharmacist=400, technician=400, outsider=404, anonymous=401),
                     pk=lambda ctx: ctx.objects["inventory"], body=lambda ctx: {}),
    },
    "api/v1/inventories/<int:pk>/submit/": {
        "POST": Case(expect(403, pharmacist=200, technician=200, outsider=404, anonymous=401),
                     pk=lambda ctx: ctx.objects["inventory"]),
    },
    "api/v1/inventories/<int:pk>/reopen/": {
        "POST": Case(expect(403, pharmacist=409, technician=409, outsider=404, anonymous=401),
                     pk=lambda ctx: ctx.objects["inventory"]),
    },
    "api/v1/inventories/<int:pk>/validate/": {
        "POST": Case(expect(403, pharmacist=409, outsider=404, anonymous=401), pk=lambda ctx: ctx.objects["inventory"]),
    },
    "api/v1/lots/<int:pk>/quarantine/": {
        "POST": Case(expect(403, pharmacist=200, outsider=404, anonymous=401), pk=lambda ctx: ctx.lot.pk,
                     body=lambda ctx: {"reason": "ampoules fêlées"}),
    },
    "api/v1/destructions/": {
        "GET": Case(READ_REGISTER),
        "POST": Case(expect(403, pharmacist=400, outsider=400, anonymous=401), body=lambda ctx: {}),
    },
    "api/v1/destructions/<int:pk>/": {"GET": Case(READ_REGISTER_OBJECT, pk=lambda ctx: ctx.objects["destruction"])},
    "api/v1/destructions/<int:pk>/pv.pdf": {
        "GET": Case(READ_REGISTER_OBJECT, pk=lambda ctx: ctx.objects["destruction"]),
    },
    "api/v1/theft-loss-reports/": {
        "GET": Case(READ_REGISTER),
        "POST": Case(expect(403, pharmacist=400, outsider=400, anonymous=401), body=lambda ctx: {}),
    },
    "api/v1/theft-loss-reports/<int:pk>/": {"GET": Case(READ_REGISTER_OBJECT, pk=lambda ctx: ctx.objects["report"])},
    "api/v1/theft-loss-reports/<int:pk>/steps/": {
        "POST": Case(expect(403, pharmacist=400, outsider=404, anonymous=401), pk=lambda ctx: ctx.objects["report"],
                     body=lambda ctx: {}),
    },
    "api/v1/transfers/": {
        "POST": Case(expect(403, pharmacist=201, technician=201, outsider=404, anonymous=401),
                     body=lambda ctx: {"lot": ctx.lot.pk, "quantity": 1, "to": "REA"}),
    },
    "api/v1/transfers/<int:pk>/reverse/": {
        "POST": Case(expect(403, pharmacist=201, outsider=404, anonymous=401), pk=lambda ctx: ctx.objects["transfer"],
                     body=lambda ctx: {"reason": "erreur de service"}),
    },
    "api/v1/administrations/": {
        "POST": Case(expect(403, pharmacist=201, nurse=201, outsider=404, anonymous=401),
                     body=lambda ctx: {"lot": ctx.lot.pk, "ward": "REA", "quantity": 1, "patient_name": "DUPONT Jean"}),
    },
    "api/v1/ward-returns/": {
        "GET": Case(expect(403, pharmacist=200, technician=200, inspector=200, nurse=200, outsider=200, anonymous=401)),
        "POST": Case(expect(403, pharmacist=400, technician=400, nurse=400, outsider=400, anonymous=401),
                     body=lambda ctx: {}),
    },
    "api/v1/ward-assignments/": {
        "POST": Case(expect(403, pharmacist=201, outsider=404, anonymous=401),
                     body=lambda ctx: {"nurse": "nurse", "ward": "URG"}),
    },
    "api/v1/wards/<str:code>/stock/": {
        "GET": Case(expect(403, pharmacist=200, technician=200, inspector=200, nurse=200, outsider=404, anonymous=401),
                    pk=lambda ctx: "REA"),
    },
    # --- prescriptions (patients, secure prescriptions, dispensations) ---
    "api/v1/patients/": {
        "GET": Case(PRESCRIPTION_READERS),
        "POST": Case(expect(403, pharmacist=201, technician=201, prescriber=201, outsider=201, anonymous=401),
                     body=lambda ctx: {"last_name": "Martin", "first_name": "Paul", "sex": "M",
                                       "birth_date": "1960-01-02", "address": "3 rue Haute, 75001 Paris",
                                       "hepatic_impairment": False}),
    },
    "api/v1/patients/<int:pk>/": {"GET": Case(PRESCRIPTION_OBJECT_READERS, pk=lambda ctx: ctx.objects["patient"])},
    "api/v1/patients/<int:pk>/exposure/": {
        "GET": Case(expect(403, pharmacist=200, prescriber=200, outsider=404, anonymous=401),
                    pk=lambda ctx: ctx.objects["patient"]),
    },
    "api/v1/prescriptions/": {
        "GET": Case(PRESCRIPTION_READERS),
        "POST": Case(expect(403, prescriber=201, anonymous=401), body=lambda ctx: {
            "patient": ctx.objects["patient"], "secure_form_lot": "SF-MATRIX-2", "declared_lines": 1,
            "issued_on": dt.date.today().isoformat(), "duration_days": 7, "overlap_authorized": True,
            "lines": [{"product": ctx.product.pk, "kind": "bolus", "dose_mg": 50, "doses_per_day": 1}],
        }),
    },
    "api/v1/prescriptions/<int:pk>/": {
        "GET": Case(PRESCRIPTION_OBJECT_READERS, pk=lambda ctx: ctx.objects["prescription"]),
    },
    "api/v1/prescriptions/<int:pk>/cancel/": {
        "POST": Case(expect(403, prescriber=200, anonymous=401), pk=lambda ctx: ctx.objects["prescription"],
                     body=lambda ctx: {"reason": "erreur de posologie"}),
    },
    "api/v1/prescriptions/<int:pk>/pdf": {
        "GET": Case(PRESCRIPTION_OBJECT_READERS, pk=lambda ctx: ctx.objects["prescription"]),
    },
    "api/v1/prescriptions/<int:pk>/dispensations/": {
        "GET": Case(PRESCRIPTION_OBJECT_READERS, pk=lambda ctx: ctx.objects["prescription"]),
        "POST": Case(expect(403, pharmacist=201, technician=201, outsider=404, anonymous=401),
                     pk=lambda ctx: ctx.objects["prescription"], body=lambda ctx: {"lot": ctx.lot.pk, "quantity": 1}),
    },
    "api/v1/wards/<str:code>/movements/": {
        "GET": Case(expect(403, pharmacist=200, technician=200, inspector=200, nurse=200, outsider=404, anonymous=401),
                    pk=lambda ctx: "REA"),
    },
}


def _walk(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            yield route, pattern.callback


def api_routes() -> dict[str, set[str]]:
    """Every route under api/v1/ with the HTTP methods its view implements."""
    routes: dict[str, set[str]] = {}
    for route, callback in _walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/"):
            continue
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        methods = {
            name.upper() for name in getattr(view, "http_method_names", [])
            if name not in ("options", "head", "trace") and hasattr(view, name)
        }
        routes.setdefault(route, set()).update(methods)
    return routes


def test_every_api_endpoint_is_in_the_matrix():
    """Each route and implemented method under /api/v1/ has an entry (and no entry is stale)."""
    routes = api_routes()
    missing = sorted(route for route in routes if route not in MATRIX)
    assert not missing, f"add these endpoints to MATRIX in {__file__}: {missing}"
    stale = sorted(route for route in MATRIX if route not in routes)
    assert not stale, f"MATRIX names routes that no longer exist: {stale}"
    unlisted = sorted((route, method) for route, methods in routes.items() for method in methods
                      if method not in MATRIX[route])
    assert not unlisted, f"add these methods to MATRIX: {unlisted}"
    for route, cases in MATRIX.items():
        for method, case in cases.items():
            assert set(case.expect) == set(PERSONAS), (route, method)
            # The outsider is a pharmacist: where that role passes, a DEMO object must be "not found".
            role_passes = case.expect["pharmacist"] not in (401, 403, 405)
            if OBJECT_MARK in route and role_passes and case.expect["outsider"] == 403:
                pytest.fail(f"{method} {route}: another establishment's object must answer 404, not 403")


CASES = [
    pytest.param(route, method, persona, id=f"{method} {route} {persona}")
    for route, cases in MATRIX.items()
    for method in cases
    for persona in PERSONAS
]


@pytest.fixture(scope="module")
def matrix_demo(django_db_setup: Any, django_db_blocker: Any) -> Iterator[None]:
    """The demo data loaded once for the whole matrix; each case runs in a savepoint inside it."""
    with django_db_blocker.unblock(), override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        with transaction.atomic():
            demo_load(password=PASSWORD)
            _workflow_objects()
            yield
            transaction.set_rollback(True)


def _workflow_objects() -> None:
    """One DEMO object of each workflow, for the object endpoints (and the nurse's ward REA)."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from operations import services as ops
    from register.models import Location, StockBalance

    users = {user.username: user for user in get_user_model().objects.all()}
    pharmacist = users["pharmacist"]
    lot = _matrix_lot()
    wards = {location.code: location for location in Location.objects.filter(establishment=lot.establishment)}
    from register import services

    # A plain receipt, the line the reversal and detail cases use (free of any workflow).
    services.movement_record(actor=pharmacist, lot=lot, direction="entry", reason="receipt", quantity=3,
                             counterparty=MATRIX_SUPPLIER)
    ops.transfer_create(actor=pharmacist, lot=lot, source=wards["VAULT"], destination=wards["REA"], quantity=5)
    ops.nurse_ward_assign(actor=pharmacist, nurse=users["nurse"], ward=wards["REA"])
    ops.inventory_open(actor=pharmacist, location=wards["BRULES"])
    ops.theft_loss_report_create(actor=pharmacist, lot=lot, kind="loss", quantity=1, circumstances="Ampoule brisée")
    other = (
        StockBalance.objects.filter(location=wards["VAULT"], on_hand__gt=0).exclude(lot=lot).select_related("lot").first()
    )
    assert other is not None
    from prescriptions import services as presc

    patient = presc.patient_create(
        actor=users["prescriber"], establishment=lot.establishment, last_name="Durand", first_name="Lucie", sex="F",
        birth_date=dt.date(1980, 3, 4), address="1 place du Marché, 75004 Paris",
    )
    presc.prescription_issue(
        actor=users["prescriber"], patient=patient, secure_form_lot="SF-MATRIX-1", declared_lines=1,
        issued_on=timezone.localdate(), duration_days=7,
        lines=[presc.LineInput(product=lot.product, kind="bolus", dose_mg=Decimal(50), doses_per_day=1)],
    )
    ops.lot_quarantine(actor=pharmacist, lot=other.lot, reason="Périmé")
    ops.destruction_perform(
        actor=pharmacist, establishment=lot.establishment, items=[(other.lot, 1)],
        inspector_notified_on=timezone.localdate() - dt.timedelta(days=40), inspector_name="ARS",
        witness_username="pharmacist2", witness_password=PASSWORD,
    )


def _matrix_lot() -> Lot:
    product = Product.objects.get(name="Kétamine 50 mg/5 mL, solution injectable")
    return Lot.objects.get(establishment=Establishment.objects.get(code="DEMO"), product=product)


@pytest.mark.parametrize(("route", "method", "persona"), CASES)
def test_permission_matrix(matrix_demo, db, route, method, persona):
    """Each persona gets exactly the expected status, in the API.md error format when refused."""
    from django.contrib.auth import get_user_model

    case = MATRIX[route][method]
    from operations.models import DestructionRecord, InventoryCount, TheftLossReport
    from prescriptions.models import Patient, SecurePrescription

    lot = _matrix_lot()
    line = Movement.objects.get(lot=lot, counterparty=MATRIX_SUPPLIER)
    objects = {
        "inventory": InventoryCount.objects.get(establishment=lot.establishment).pk,
        "destruction": DestructionRecord.objects.get(establishment=lot.establishment).pk,
        "report": TheftLossReport.objects.get(establishment=lot.establishment).pk,
        "transfer": Movement.objects.get(lot=lot, reason="transfer_out").pk,
        "patient": Patient.objects.get(last_name="Durand").pk,
        "prescription": SecurePrescription.objects.get(secure_form_lot="SF-MATRIX-1").pk,
    }
    ctx = Ctx(persona=persona, lot=lot, line=line, product=lot.product, objects=objects)
    url = "/" + route
    if OBJECT_MARK in route:
        assert case.pk is not None, f"{route} needs a pk"
        url = re.sub(r"<[^>]+>", str(case.pk(ctx)), url)
    user = None if persona == "anonymous" else get_user_model().objects.get(username=persona)
    client = client_for(user)
    body = case.body(ctx) if case.body else None
    response = getattr(client, method.lower())(url, body, format="json", **case.extra)
    expected = case.expect[persona]
    assert response.status_code == expected, (response.status_code, getattr(response, "data", None))
    if 400 <= expected < 500:
        payload = response.json()
        assert isinstance(payload["code"], str) and isinstance(payload["detail"], str)
