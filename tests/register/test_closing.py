"""Monthly closing (R.5132-36 monthly balance): frozen, recomputed from the ledger, never corrected."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import DatabaseError, transaction
from django.utils import timezone

from audit.models import AuditEvent
from config.errors import DomainError
from register import services
from register.closing import month_close, next_month
from register.export.lines import ExportScope
from register.export.pdf import write_register_pdf
from register.models import MonthlyClosing, RegisterHead
from tests.register.export_helpers import pdf_texts


@pytest.fixture
def this_month(demo):
    """The month of the demo lines (recorded at the real current date)."""
    return timezone.localdate().replace(day=1)


def _in_month(month: dt.date, day: int = 15) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(month.replace(day=day), dt.time(12)))


def test_it_closes_a_past_month_from_the_ledger(pharmacist, demo, lot_50, this_month, product_50):
    """Each product: opening + entries - exits = closing, with the head at that moment."""
    services.movement_record(actor=pharmacist, lot=lot_50, direction="exit", reason="loss", quantity=3, counterparty="x")
    head = RegisterHead.objects.get(establishment=demo["DEMO"])
    with time_machine.travel(_in_month(next_month(this_month))):
        rows = month_close(actor=pharmacist, establishment=demo["DEMO"], month=this_month)
    k50 = next(row for row in rows if row.product_id == product_50.pk)
    assert (k50.opening, k50.entries, k50.exits, k50.closing) == (0, 40, 3, 37)
    assert len(rows) == 4
    assert {(row.head_number, row.head_hash) for row in rows} == {(head.last_number, head.last_hash)}
    assert {row.closed_by_name for row in rows} == {"pharmacist"}
    assert AuditEvent.objects.filter(action="register.month_closed", data__month=f"{this_month:%Y-%m}").exists()


def test_the_next_month_opens_on_the_previous_closing(pharmacist, demo, lot_50, this_month, product_50):
    """Closing two months in a row: the second's opening is the first's closing."""
    second = next_month(this_month)
    with time_machine.travel(_in_month(second)):
        services.movement_record(actor=pharmacist, lot=lot_50, direction="exit", reason="loss", quantity=5, counterparty="x")
    with time_machine.travel(_in_month(next_month(second))):
        month_close(actor=pharmacist, establishment=demo["DEMO"], month=this_month)
        rows = month_close(actor=pharmacist, establishment=demo["DEMO"], month=second)
    k50 = next(row for row in rows if row.product_id == product_50.pk)
    assert (k50.opening, k50.entries, k50.exits, k50.closing) == (40, 0, 5, 35)


@pytest.mark.parametrize("offset", [0, 1])
def test_it_refuses_the_current_or_a_future_month(pharmacist, demo, this_month, offset):
    """A month that is not over cannot be closed: month_not_over."""
    month = next_month(this_month) if offset else this_month
    with pytest.raises(DomainError) as refused:
        month_close(actor=pharmacist, establishment=demo["DEMO"], month=month)
    assert refused.value.code == "month_not_over"
    assert not MonthlyClosing.objects.exists()


def test_it_refuses_to_close_a_month_twice(pharmacist, demo, this_month):
    """month_already_closed; the first closing is untouched."""
    with time_machine.travel(_in_month(next_month(this_month))):
        month_close(actor=pharmacist, establishment=demo["DEMO"], month=this_month)
        with pytest.raises(DomainError) as refused:
            month_close(actor=pharmacist, establishment=demo["DEMO"], month=this_month)
    assert refused.value.code == "month_already_closed"
    assert MonthlyClosing.objects.filter(establishment=demo["DEMO"]).count() == 4


def test_a_line_dated_in_a_closed_month_is_refused_and_never_silently_absorbed(pharmacist, demo, lot_50, this_month, monkeypatch):
    """A late line inside a closed month is refused; one that got in anyway fails the next closing."""
    second = next_month(this_month)
    late = {"actor": pharmacist, "lot": lot_50, "direction": "exit", "reason": "loss", "quantity": 2, "counterparty": "x",
            "occurred_at": _in_month(this_month, 20), "late_entry_reason": "Oubli de saisie"}
    with time_machine.travel(_in_month(second, 2)):
        month_close(actor=pharmacist, establishment=demo["DEMO"], month=this_month)
        with pytest.raises(DomainError) as guarded:
            services.movement_record(**late)
        assert guarded.value.code == "month_closed"
        # A line written past the guard (e.g. before it existed) must still be caught.
        monkeypatch.setattr(services, "_month_to_check", lambda occurred_at: None)
        services.movement_record(**late)
    with time_machine.travel(_in_month(next_month(second))):
        with pytest.raises(DomainError) as refused:
            month_close(actor=pharmacist, establishment=demo["DEMO"], month=second)
    assert refused.value.code == "closing_mismatch"
    mismatch = refused.value.extra["mismatches"][0]
    assert (mismatch["previous_closing"], mismatch["ledger_opening"]) == (40, 38)
    assert not MonthlyClosing.objects.filter(month=second).exists()


def test_a_line_stamped_just_before_midnight_cannot_land_in_the_month_closed_at_midnight(
    pharmacist, demo, lot_50, this_month
):
    """The race of the last second: a request whose clock still reads the closing month, reaching
    the register lock after that month was closed, is refused (the check is made under the lock,
    whatever the request thought the current month was)."""
    second = next_month(this_month)
    with time_machine.travel(_in_month(second, 1)):
        month_close(actor=pharmacist, establishment=demo["DEMO"], month=this_month)
    last_second = timezone.make_aware(dt.datetime.combine(second, dt.time(0))) - dt.timedelta(milliseconds=500)
    with time_machine.travel(last_second, tick=False):
        with pytest.raises(DomainError) as refused:
            services.movement_record(actor=pharmacist, lot=lot_50, direction="exit", reason="loss", quantity=1,
                                     counterparty="x")
    assert refused.value.code == "month_closed"


def test_months_close_in_order(pharmacist, demo, this_month):
    """After a closing, the next month must follow it; an earlier month cannot come after."""
    third = next_month(next_month(this_month))
    with time_machine.travel(_in_month(next_month(third))):
        month_close(actor=pharmacist, establishment=demo["DEMO"], month=next_month(this_month))
        with pytest.raises(DomainError) as gap:
            month_close(actor=pharmacist, establishment=demo["DEMO"], month=next_month(third))
        with pytest.raises(DomainError) as earlier:
            month_close(actor=pharmacist, establishment=demo["DEMO"], month=this_month)
    assert (gap.value.code, earlier.value.code) == ("month_not_over", "closing_out_of_order")
    with time_machine.travel(_in_month(next_month(next_month(third)))):
        with pytest.raises(DomainError) as skipped:
            month_close(actor=pharmacist, establishment=demo["DEMO"], month=next_month(third))
    assert skipped.value.code == "previous_month_open"


def test_a_month_before_any_line_has_nothing_to_close(pharmacist, demo):
    """No line up to that month: nothing_to_close."""
    with pytest.raises(DomainError) as refused:
        month_close(actor=pharmacist, establishment=demo["DEMO"], month=dt.date(2018, 1, 1))
    assert refused.value.code == "nothing_to_close"


def test_the_database_refuses_to_change_a_closing(pharmacist, demo, this_month):
    """Append-only: UPDATE and DELETE on a frozen closing are refused by the trigger."""
    with time_machine.travel(_in_month(next_month(this_month))):
        month_close(actor=pharmacist, establishment=demo["DEMO"], month=this_month)
    for change in (
        lambda: MonthlyClosing.objects.filter(establishment=demo["DEMO"]).update(closing=0),
        lambda: MonthlyClosing.objects.filter(establishment=demo["DEMO"]).delete(),
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            change()


def test_the_database_refuses_figures_that_do_not_add_up(demo, product_50):
    """CHECK closing = opening + entries - exits, whatever writes the row."""
    with pytest.raises(DatabaseError), transaction.atomic():
        MonthlyClosing.objects.create(
            establishment=demo["DEMO"], product=product_50, month=dt.date(2025, 1, 1), opening=1, entries=1,
            exits=0, closing=5, head_number=0, head_hash="0" * 64, closed_at=timezone.now(), closed_by_name="x",
        )


@pytest.mark.parametrize(("persona", "expected"), [("pharmacist", 201), ("technician", 403), ("inspector", 403)])
def test_closing_endpoint_roles(request, api, demo, this_month, persona, expected):
    """Only a pharmacist closes a month through the API."""
    with time_machine.travel(_in_month(next_month(this_month))):
        response = api(request.getfixturevalue(persona)).post(
            "/api/v1/register/closings/", {"month": f"{this_month:%Y-%m}"}, format="json"
        )
    assert response.status_code == expected
    if expected == 201:
        assert {row["month"] for row in response.json()} == {f"{this_month:%Y-%m}"}


def test_closing_endpoint_errors_and_list(api, pharmacist, inspector, outsider, demo, this_month):
    """409 with the domain code, 400 for a bad month, and the list scoped to one's establishments."""
    client = api(pharmacist)
    assert client.post("/api/v1/register/closings/", {"month": f"{this_month:%Y-%m}"}, format="json").json()["code"] == (
        "month_not_over"
    )
    for bad in ("2026-13", "0000-01", "march", ""):
        answer = client.post("/api/v1/register/closings/", {"month": bad}, format="json")
        assert answer.status_code == 400, bad
    with time_machine.travel(_in_month(next_month(this_month))):
        assert client.post("/api/v1/register/closings/", {"month": f"{this_month:%Y-%m}"}, format="json").status_code == 201
    listed = api(inspector).get("/api/v1/register/closings/", {"month": f"{this_month:%Y-%m}"})
    assert listed.status_code == 200 and listed.json()["count"] == 4
    assert api(outsider).get("/api/v1/register/closings/").json()["count"] == 0
    assert api(inspector).get("/api/v1/register/closings/", {"month": "x"}).status_code == 400


def test_close_month_command(pharmacist, demo, this_month):
    """manage.py close_month prints each product's balance; a refusal is a CommandError."""
    out = io.StringIO()
    with time_machine.travel(_in_month(next_month(this_month))):
        call_command("close_month", "--establishment", "DEMO", "--month", f"{this_month:%Y-%m}", "--user", "pharmacist",
                     stdout=out)
        with pytest.raises(CommandError, match="month_already_closed"):
            call_command("close_month", "--establishment", "DEMO", "--month", f"{this_month:%Y-%m}")
    assert "Kétamine 50 mg/5 mL, solution injectable: 0 + 40 - 0 = 40" in out.getvalue()
    assert MonthlyClosing.objects.filter(establishment=demo["DEMO"], closed_by=pharmacist).count() == 4


def test_frozen_closings_are_printed_in_the_export(pharmacist, demo, this_month):
    """The PDF lists the frozen closings with their chain head, and marks the month closed."""
    with time_machine.travel(_in_month(next_month(this_month))):
        rows = month_close(actor=pharmacist, establishment=demo["DEMO"], month=this_month)
        out = io.BytesIO()
        write_register_pdf(out, ExportScope.snapshot(demo["DEMO"]), edited_by="inspector",
                           closings=list(MonthlyClosing.objects.select_related("product")))
    text = " ".join(" ".join(pdf_texts(out.getvalue())).split())
    assert "Clôtures mensuelles figées" in text
    assert rows[0].head_hash in text
    assert f"figée le {timezone.localtime(rows[0].closed_at):%d/%m/%Y}" in text
