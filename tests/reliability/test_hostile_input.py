"""Targeted hostile input against the register API: always a 4xx in the API.md format, never a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection

from register.models import Lot, Movement
from register.selectors import register_verify

MOVEMENTS = "/api/v1/movements/"


def _entry(**extra: Any) -> dict[str, Any]:
    return {"direction": "entry", "reason": "receipt", "quantity": 1, "counterparty": "Fournisseur", **extra}


def _assert_error(answer: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert answer.status_code == status, answer.content[:300]
    assert answer["Content-Type"].startswith("application/json")
    body = answer.json()
    assert isinstance(body["code"], str) and isinstance(body["detail"], str)
    if code is not None:
        assert body["code"] == code, body
    return body


def test_a_huge_body_is_refused_with_413(api, technician, lot_50):
    """A 2 MB body (above DATA_UPLOAD_MAX_MEMORY_SIZE) answers 413 request_too_large, writes nothing."""
    before = Movement.objects.count()
    body = json.dumps(_entry(lot=lot_50.pk, note="x" * 2_000_000))
    answer = api(technician).post(MOVEMENTS, body, content_type="application/json")
    _assert_error(answer, 413, "request_too_large")
    assert Movement.objects.count() == before


def test_a_long_text_field_is_a_400_naming_the_field(api, technician, lot_50):
    """A note beyond its 2000 characters is a validation error on `note`."""
    answer = api(technician).post(MOVEMENTS, _entry(lot=lot_50.pk, note="x" * 5000), format="json")
    assert "note" in _assert_error(answer, 400, "validation_error")["fields"]


@pytest.mark.parametrize(
    "patch",
    [
        {"quantity": "ten"},
        {"quantity": 1.5},
        {"quantity": [1]},
        {"quantity": {"value": 1}},
        {"quantity": None},
        {"lot": "abc"},
        {"lot": [1, 2]},
        {"lot": 10**30},
        {"direction": 5},
        {"direction": "sideways"},
        {"reason": ["receipt"]},
        {"occurred_at": "yesterday"},
        {"occurred_at": 12345},
        {"counterparty": {"name": "x"}},
        {"note": "nul\x00byte"},
    ],
    ids=lambda patch: f"{next(iter(patch))}={next(iter(patch.values()))!r}"[:40],
)
def test_wrong_types_are_a_400_validation_error(api, technician, lot_50, patch):
    """A field of the wrong type or an impossible value is refused as 400 validation_error."""
    answer = api(technician).post(MOVEMENTS, {**_entry(lot=lot_50.pk), **patch}, format="json")
    assert next(iter(patch)) in _assert_error(answer, 400, "validation_error")["fields"]


@pytest.mark.parametrize("body", ["[1, 2, 3]", '"a string"', "42", "null", "true"])
def test_a_json_body_that_is_not_an_object_is_a_400(api, technician, lot_50, body):
    """Valid JSON that is not an object is refused, not crashed on."""
    answer = api(technician).post(MOVEMENTS, body, content_type="application/json")
    _assert_error(answer, 400)


@pytest.mark.parametrize("quantity", [0, -1, -(2**31), -(10**20)])
def test_zero_and_negative_quantities_are_refused(api, technician, lot_50, quantity):
    """Zero and negative quantities are 400, for entries and exits alike; nothing written."""
    before = Movement.objects.count()
    for direction, reason in (("entry", "receipt"), ("exit", "loss")):
        body = _entry(lot=lot_50.pk, direction=direction, reason=reason, quantity=quantity)
        _assert_error(api(technician).post(MOVEMENTS, body, format="json"), 400, "validation_error")
    assert Movement.objects.count() == before


def test_unicode_text_is_stored_verbatim_and_hashed(api, pharmacist, lot_50, demo):
    """Accents, CJK, emoji, right-to-left and combining marks are kept as sent; the chain verifies."""
    counterparty = "Pharmacie Ünïcødé 薬局 — ß Ⅻ 🧪💉 مستشفى e\u0301"
    note = "Zalgo: Z̴̡̛a̷͔͝l̸̢̛g̵̡̛o̸ ̶\u200b\u200dfin \U0001f600"
    answer = api(pharmacist).post(MOVEMENTS, _entry(lot=lot_50.pk, counterparty=counterparty, note=note), format="json")
    assert answer.status_code == 201, answer.content
    line = Movement.objects.get(pk=answer.json()["id"])
    assert (line.counterparty, line.note) == (counterparty, note)
    shown = api(pharmacist).get(f"{MOVEMENTS}{line.pk}/").json()
    assert (shown["counterparty"], shown["note"]) == (counterparty, note)
    assert register_verify(demo["DEMO"]).ok


def test_a_unicode_batch_number_makes_a_lot(api, pharmacist, product_50):
    """A lot's batch number in non-Latin script is accepted and returned unchanged."""
    answer = api(pharmacist).post(
        "/api/v1/lots/", {"product": product_50.pk, "batch_number": "ЛОТ-№7-批次", "expires_on": "2030-01-31"},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["batch_number"] == "ЛОТ-№7-批次"


@pytest.mark.parametrize(
    "counterparty",
    [
        "'; DROP TABLE register_movement; --",
        "Robert'); DELETE FROM audit_auditevent WHERE ('1'='1",
        "<script>alert('x')</script>",
        '<img src=x onerror="alert(1)"> & &amp; &lt;',
        "{{ 7*7 }} {% now 'Y' %} ${7*7}",
    ],
)
def test_sql_and_html_in_text_fields_are_stored_as_text(api, pharmacist, lot_50, demo, counterparty):
    """SQL and markup in text fields are data: stored and returned verbatim, tables untouched."""
    lines_before = Movement.objects.count()
    answer = api(pharmacist).post(MOVEMENTS, _entry(lot=lot_50.pk, counterparty=counterparty, note=counterparty),
                                  format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["counterparty"] == counterparty
    line = Movement.objects.get(pk=answer.json()["id"])
    assert (line.counterparty, line.note) == (counterparty, counterparty)
    assert Movement.objects.count() == lines_before + 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent")
        assert cursor.fetchone()[0] > 0
    assert register_verify(demo["DEMO"]).ok


@pytest.mark.parametrize(
    ("occurred_at", "code"),
    [
        ("0001-01-01T00:00:00Z", "not_narcotic_on_date"),
        ("0001-01-01T00:00:00+14:00", None),
        ("0001-01-01", "validation_error"),
        ("0001-01-01T00:00:00", "validation_error"),
        ("9999-12-31T23:59:59Z", None),
        ("9999-12-31T23:59:59-12:00", None),
        ("9999-12-31T23:59:59.999999", "occurred_in_future"),
        ("10000-01-01T00:00:00Z", "validation_error"),
        ("2026-02-30T10:00:00Z", "validation_error"),
    ],
)
def test_extreme_dates_are_refused_cleanly(api, pharmacist, lot_50, occurred_at, code):
    """Years 0001 and 9999 (and invalid dates) give a 4xx with a code, never an overflow 500."""
    body = _entry(lot=lot_50.pk, occurred_at=occurred_at, late_entry_reason="Saisie d'archives papier")
    answer = api(pharmacist).post(MOVEMENTS, body, format="json")
    assert 400 <= answer.status_code < 500, answer.content
    error = _assert_error(answer, answer.status_code)
    if code is not None:
        assert error["code"] == code


@pytest.mark.parametrize("expires_on", ["0001-01-01", "9999-12-31"])
def test_lots_accept_extreme_expiry_dates_without_crashing(api, pharmacist, product_50, expires_on):
    """A lot dated year 1 or 9999 is stored; receiving into the year-1 lot is refused as expired."""
    answer = api(pharmacist).post(
        "/api/v1/lots/", {"product": product_50.pk, "batch_number": f"X-{expires_on}", "expires_on": expires_on},
        format="json",
    )
    assert answer.status_code == 201, answer.content
    receipt = api(pharmacist).post(MOVEMENTS, _entry(lot=answer.json()["id"]), format="json")
    if expires_on.startswith("0001"):
        _assert_error(receipt, 409, "lot_expired")
    else:
        assert receipt.status_code == 201


def test_another_establishments_ids_answer_404(api, pharmacist, outsider, demo):
    """Lots, lines, reversals, locations and establishment codes of OTHER are 404 for DEMO's pharmacist."""
    other_lot = Lot.objects.filter(establishment=demo["OTHER"]).first()
    other_line = Movement.objects.filter(establishment=demo["OTHER"]).first()
    mine = Lot.objects.filter(establishment=demo["DEMO"]).first()
    client = api(pharmacist)
    _assert_error(client.post(MOVEMENTS, _entry(lot=other_lot.pk), format="json"), 404, "not_found")
    _assert_error(client.get(f"{MOVEMENTS}{other_line.pk}/"), 404, "not_found")
    _assert_error(client.post(f"{MOVEMENTS}{other_line.pk}/reverse/", {"reason": "x"}, format="json"), 404, "not_found")
    _assert_error(client.get("/api/v1/register/verify/?establishment=OTHER"), 404, "not_found")
    _assert_error(client.post("/api/v1/lots/", {"product": other_lot.product_id, "batch_number": "Z",
                                                "expires_on": "2030-01-01", "establishment": "OTHER"},
                              format="json"), 404, "not_found")
    _assert_error(client.post(MOVEMENTS, _entry(lot=mine.pk, location="VAULT-OF-OTHER"), format="json"), 404)
    assert client.get(f"{MOVEMENTS}?lot={other_lot.pk}").json()["count"] == 0
    assert all(row["lot"] != other_lot.pk for row in client.get("/api/v1/stock/").json()["results"])


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/movements/-1/",
        "/api/v1/movements/99999999999999999999999/",
        "/api/v1/movements/abc/",
        "/api/v1/no-such-endpoint/",
        "/api/v1/movements/1/reverse/extra/",
    ],
)
def test_unrouted_and_out_of_range_ids_are_json_404(api, pharmacist, path):
    """A URL no route matches, or an id beyond bigint, is a JSON 404 under /api/, not an HTML page."""
    _assert_error(api(pharmacist).get(path), 404, "not_found")


@pytest.mark.parametrize(
    "query",
    ["limit=-1", "limit=abc", "offset=-5", "offset=99999999999999999999", "lot=abc", "lot=99999999999999999999",
     "from=not-a-date", "to=0000-00-00", "from=9999-12-31&to=0001-01-01", "product=1e400", "direction=up"],
)
def test_hostile_query_parameters_never_crash_the_list(api, inspector, query):
    """Bad filters and pagination on the register list give 200 or a 400, never a 5xx."""
    answer = api(inspector).get(f"{MOVEMENTS}?{query}")
    assert answer.status_code in (200, 400), answer.content[:300]
    if answer.status_code == 400:
        _assert_error(answer, 400)


@pytest.mark.parametrize(
    "payload",
    ['{"direction": "entry", "lot": ', "{'direction': 'entry'}", "{\"a\": NaN}", "\xff\xfe garbage", "", "{" * 5000],
)
def test_malformed_json_is_a_400_parse_error(api, technician, payload):
    """A body that is not JSON answers 400 parse_error (or a validation error for an empty body)."""
    answer = api(technician).post(MOVEMENTS, payload, content_type="application/json")
    assert answer.status_code == 400, answer.content[:300]
    _assert_error(answer, 400)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded", "image/png"],
)
def test_a_wrong_content_type_is_415(api, technician, lot_50, content_type):
    """Only JSON bodies are accepted: any other content type answers 415 unsupported_media_type."""
    answer = api(technician).post(MOVEMENTS, "direction=entry&lot=1", content_type=content_type)
    _assert_error(answer, 415, "unsupported_media_type")


def test_an_unrouted_url_outside_the_api_keeps_django_s_page(client, demo):
    """Outside /api/ a missing page is still Django's HTML 404, not the API's JSON."""
    answer = client.get("/no-such-page/")
    assert answer.status_code == 404
    assert not answer["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("path", "field"),
    [("/api/v1/administrations/", "occurred_at"), ("/api/v1/theft-loss-reports/", "discovered_at")],
)
@pytest.mark.parametrize("value", ["0001-01-01", "0001-01-01T00:00:00"])
def test_year_one_dates_on_the_other_writes_are_a_400(api, pharmacist, path, field, value):
    """Year-1 naive datetimes on administrations and theft/loss reports are refused, not a 500."""
    answer = api(pharmacist).post(path, {field: value}, format="json")
    assert field in _assert_error(answer, 400, "validation_error")["fields"]
