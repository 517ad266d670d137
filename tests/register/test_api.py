"""The register's HTTP contract (API.md): auth, products, lots, stock, movements, verify."""

from __future__ import annotations

import pytest

from register.models import Movement, StockBalance


def _post_exit(client, lot, quantity=1, **extra):
    body = {"direction": "exit", "reason": "loss", "lot": lot.pk, "quantity": quantity, "counterparty": "x", **extra}
    return client.post("/api/v1/movements/", body, format="json")


def test_it_issues_a_token_and_accepts_it(demo, client):
    """POST /auth/token/ with the right password returns a token usable as `Token <key>`."""
    from tests.conftest import PASSWORD

    answer = client.post("/api/v1/auth/token/", {"username": "technician", "password": PASSWORD},
                         content_type="application/json")
    assert answer.status_code == 200
    token = answer.json()["token"]
    products = client.get("/api/v1/products/", HTTP_AUTHORIZATION=f"Token {token}")
    assert products.status_code == 200
    assert {p["name"] for p in products.json()} >= {"Kétamine 50 mg/5 mL, solution injectable"}


def test_it_refuses_a_wrong_password_in_the_error_format(demo, client):
    """A wrong password is a 4xx with {code, detail}."""
    answer = client.post("/api/v1/auth/token/", {"username": "technician", "password": "nope"},
                         content_type="application/json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "invalid_credentials"


def test_products_show_strength_and_narcotic_status(api, technician):
    """Each product gives mg and mL per unit, unit label and whether it is a narcotic today."""
    products = {p["name"]: p for p in api(technician).get("/api/v1/products/").json()}
    k50 = products["Kétamine 50 mg/5 mL, solution injectable"]
    assert (k50["mg_per_unit"], k50["ml_per_unit"], k50["unit_label"], k50["narcotic"]) == ("50.00", "5.00", "ampoule", True)
    assert products["Eskétamine 50 mg/2 mL, solution injectable"]["racemic_factor"] == "2.00"


def test_a_technician_records_an_exit_and_gets_the_line(api, technician, lot_50):
    """POST /movements/ answers 201 with the line's number, balance and hashes."""
    answer = _post_exit(api(technician), lot_50, 3)
    assert answer.status_code == 201, answer.json()
    line = answer.json()
    assert line["balance_after"] == 37 and line["quantity"] == 3 and line["recorded_by"] == "technician"
    assert len(line["hash"]) == 64 and len(line["prev_hash"]) == 64
    assert StockBalance.objects.get(lot=lot_50).on_hand == 37


def test_an_exit_beyond_stock_is_409_and_writes_nothing(api, technician, lot_50):
    """insufficient_stock is a 409 in the error format; no line is written."""
    before = Movement.objects.count()
    answer = _post_exit(api(technician), lot_50, 41)
    assert answer.status_code == 409
    assert answer.json()["code"] == "insufficient_stock"
    assert Movement.objects.count() == before


@pytest.mark.parametrize(
    "body",
    [
        {"direction": "exit", "reason": "loss", "quantity": 1},
        {"direction": "sideways", "reason": "loss", "lot": 1, "quantity": 1},
        {"direction": "exit", "reason": "loss", "lot": "abc", "quantity": 1},
        {"direction": "exit", "reason": "loss", "lot": 1, "quantity": 0},
        {"direction": "exit", "reason": "loss", "lot": 1, "quantity": -5},
        {"direction": "exit", "reason": "loss", "lot": 1, "quantity": 2.5},
        {"direction": "exit", "reason": "loss", "lot": 1, "quantity": 1, "occurred_at": "not a date"},
    ],
)
def test_bad_input_is_a_400_validation_error(api, technician, demo, body):
    """Shape errors answer 400 validation_error with the offending field."""
    answer = api(technician).post("/api/v1/movements/", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["code"] == "validation_error"
    assert answer.json()["fields"]


def test_a_dispensation_cannot_be_posted_as_a_plain_movement(api, technician, lot_50):
    """Dispensations come from a prescription; the direct endpoint refuses that reason."""
    answer = api(technician).post(
        "/api/v1/movements/", {"direction": "exit", "reason": "dispensation", "lot": lot_50.pk, "quantity": 1}, format="json"
    )
    assert answer.status_code == 400 and answer.json()["code"] == "reason_not_allowed"


def test_another_establishments_lot_answers_404(api, outsider, lot_50):
    """An object of another establishment does not exist for the caller."""
    answer = _post_exit(api(outsider), lot_50)
    assert answer.status_code == 404 and answer.json()["code"] == "not_found"
    assert api(outsider).get(f"/api/v1/movements/{Movement.objects.filter(lot=lot_50).first().pk}/").status_code == 404


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_register_lines_cannot_be_changed_through_the_api(api, pharmacist, lot_50, method):
    """PUT, PATCH and DELETE on a line answer 405 to everyone."""
    line = Movement.objects.filter(lot=lot_50).first()
    answer = getattr(api(pharmacist), method)(f"/api/v1/movements/{line.pk}/", {"quantity": 1}, format="json")
    assert answer.status_code == 405
    assert answer.json()["code"] == "method_not_allowed"


def test_movements_list_is_paginated_and_filtered(api, inspector, technician, lot_50, demo):
    """GET /movements/ pages {count,next,previous,results} and filters by lot and dates."""
    _post_exit(api(technician), lot_50, 1)
    listing = api(inspector).get("/api/v1/movements/", {"lot": lot_50.pk}).json()
    assert set(listing) == {"count", "next", "previous", "results"}
    assert listing["count"] == 2 and all(line["lot"] == lot_50.pk for line in listing["results"])
    assert api(inspector).get("/api/v1/movements/", {"from": "2999-01-01"}).json()["count"] == 0
    assert api(inspector).get("/api/v1/movements/", {"from": "yesterday"}).status_code == 400
    outsider_view = api(inspector).get("/api/v1/movements/").json()
    assert {line["establishment"] for line in outsider_view["results"]} == {"DEMO"}


def test_a_pharmacist_reverses_a_line_once(api, pharmacist, technician, lot_50):
    """A reversal is a new line pointing at the original; a second reversal is refused."""
    line = _post_exit(api(technician), lot_50, 2).json()
    reversal = api(pharmacist).post(f"/api/v1/movements/{line['id']}/reverse/", {"reason": "Erreur de saisie"}, format="json")
    assert reversal.status_code == 201
    assert reversal.json()["reverses"] == line["id"] and reversal.json()["direction"] == "entry"
    again = api(pharmacist).post(f"/api/v1/movements/{line['id']}/reverse/", {"reason": "encore"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "already_reversed"
    assert api(technician).post(f"/api/v1/movements/{line['id']}/reverse/", {"reason": "x"}, format="json").status_code == 403


def test_verify_reports_the_chain(api, inspector, pharmacist, technician, prescriber):
    """GET /register/verify/ answers {ok, lines, head_hash, first_broken} to pharmacists and inspectors."""
    answer = api(inspector).get("/api/v1/register/verify/")
    assert answer.status_code == 200
    body = answer.json()
    assert body["ok"] is True and body["lines"] == 4 and body["first_broken"] is None and len(body["head_hash"]) == 64
    assert api(pharmacist).get("/api/v1/register/verify/").status_code == 200
    assert api(technician).get("/api/v1/register/verify/").status_code == 403
    assert api(prescriber).get("/api/v1/register/verify/").status_code == 403


def test_a_prescriber_cannot_post_a_movement(api, prescriber, lot_50):
    """Stock movements are the pharmacy's: a prescriber gets 403."""
    assert _post_exit(api(prescriber), lot_50).status_code == 403


def test_anonymous_gets_401(client, demo):
    """Without credentials the API answers 401 in the error format."""
    answer = client.get("/api/v1/movements/")
    assert answer.status_code == 401 and answer.json()["code"] == "not_authenticated"


def test_lots_are_created_for_the_callers_establishment(api, pharmacist, product_50):
    """POST /lots/ creates a lot in the caller's establishment; a duplicate batch is refused."""
    body = {"product": product_50.pk, "batch_number": "NEW-1", "expires_on": "2030-01-31"}
    created = api(pharmacist).post("/api/v1/lots/", body, format="json")
    assert created.status_code == 201 and created.json()["establishment"] == "DEMO"
    duplicate = api(pharmacist).post("/api/v1/lots/", body, format="json")
    assert duplicate.status_code == 409 and duplicate.json()["code"] == "lot_exists"


def test_stock_lists_on_hand_per_lot_and_location(api, inspector, lot_50):
    """GET /stock/ gives {lot, product, location, on_hand} for the caller's establishments."""
    rows = api(inspector).get("/api/v1/stock/").json()["results"]
    row = next(r for r in rows if r["lot"] == lot_50.pk)
    assert (row["location"], row["on_hand"], row["product"]) == ("VAULT", 40, lot_50.product_id)


def test_schema_and_docs_are_served(client, demo):
    """The OpenAPI schema and the interactive docs answer 200."""
    assert client.get("/api/v1/schema/").status_code == 200
    assert client.get("/api/v1/docs/").status_code == 200


def test_a_loss_posted_directly_opens_its_declaration_report(api, technician, lot_50):
    """A theft or loss entered as a plain exit still gets its R.5132-80 checklist, incomplete."""
    from operations.models import TheftLossReport

    answer = _post_exit(api(technician), lot_50, 1, note="Ampoule brisée au déballage")
    assert answer.status_code == 201
    report = TheftLossReport.objects.get(movement_id=answer.json()["id"])
    assert report.kind == "loss" and report.circumstances == "Ampoule brisée au déballage"
    listing = api(technician).get("/api/v1/theft-loss-reports/", {"incomplete": 1}).json()
    rows = listing["results"] if isinstance(listing, dict) else listing
    assert report.pk in {row["id"] for row in rows}


def test_the_movement_answer_is_the_declared_serializer_fields(api, pharmacist, demo, make_lot):
    """MovementSerializer writes its answer directly for speed: the same as DRF's generic walk
    over the declared fields, for a plain line, a reversal and a late line, and for the POST answer."""
    from rest_framework import serializers

    from register.serializers import MovementSerializer

    lot = make_lot(units=10)
    posted = _post_exit(api(pharmacist), lot, 2, note="« casse »")
    assert posted.status_code == 201
    movement = Movement.objects.get(pk=posted.json()["id"])
    reversal = api(pharmacist).post(f"/api/v1/movements/{movement.pk}/reverse/", {"reason": "erreur"}, format="json")
    assert reversal.status_code == 201
    for line in Movement.objects.filter(establishment=demo["DEMO"]):
        generic = serializers.ModelSerializer.to_representation(MovementSerializer(), line)
        assert MovementSerializer(line).data == generic
    assert posted.json() == serializers.ModelSerializer.to_representation(MovementSerializer(), movement)
    assert reversal.json()["reverses"] == movement.pk
