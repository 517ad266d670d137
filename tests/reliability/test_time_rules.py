"""Time rules at the API (issue 9 §4): no line dated in the future; a late entry needs its reason."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from register.models import Movement
from register.selectors import register_verify

MOVEMENTS = "/api/v1/movements/"


def _post(client: Any, lot: Any, occurred_at: dt.datetime | str | None, **extra: Any) -> Any:
    body = {"direction": "entry", "reason": "receipt", "lot": lot.pk, "quantity": 2, "counterparty": "Fournisseur", **extra}
    if occurred_at is not None:
        body["occurred_at"] = occurred_at if isinstance(occurred_at, str) else occurred_at.isoformat()
    return client.post(MOVEMENTS, body, format="json")


@pytest.mark.parametrize("ahead", [dt.timedelta(minutes=10), dt.timedelta(days=1), dt.timedelta(days=3650)])
def test_a_movement_dated_in_the_future_is_refused(api, technician, lot_50, ahead):
    """occurred_at beyond the clock-skew allowance answers 400 occurred_in_future; nothing written."""
    before = Movement.objects.count()
    answer = _post(api(technician), lot_50, timezone.now() + ahead)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "occurred_in_future" and "occurred_at" in body["fields"]
    assert Movement.objects.count() == before


def test_a_small_clock_skew_into_the_future_is_tolerated(api, technician, lot_50):
    """A client clock a minute ahead of the server is not a future date."""
    answer = _post(api(technician), lot_50, timezone.now() + dt.timedelta(minutes=1))
    assert answer.status_code == 201, answer.content


def test_a_future_date_given_in_another_time_zone_is_still_future(api, technician, lot_50):
    """The comparison is on instants: a future time written with a far-east offset is refused."""
    future = (timezone.now() + dt.timedelta(hours=2)).astimezone(dt.timezone(dt.timedelta(hours=14)))
    answer = _post(api(technician), lot_50, future)
    assert answer.status_code == 400 and answer.json()["code"] == "occurred_in_future"


@pytest.mark.parametrize("reason", [None, "", "   \t\n"])
def test_a_late_entry_without_a_reason_is_refused(api, technician, lot_50, reason):
    """A line dated more than 24 h ago without (or with a blank) late_entry_reason answers 400."""
    before = Movement.objects.count()
    extra = {} if reason is None else {"late_entry_reason": reason}
    answer = _post(api(technician), lot_50, timezone.now() - dt.timedelta(days=3), **extra)
    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == "late_entry_reason_required" and "late_entry_reason" in body["fields"]
    assert Movement.objects.count() == before


def test_a_late_entry_with_its_reason_is_recorded_and_flagged(api, technician, inspector, lot_50, demo):
    """With a reason, the backdated line is written, keeps its date, and is flagged late in the register."""
    occurred = timezone.now() - dt.timedelta(days=3)
    answer = _post(api(technician), lot_50, occurred, late_entry_reason="  Panne informatique du 12, saisie a posteriori ")
    assert answer.status_code == 201, answer.content
    line = answer.json()
    assert line["late_entry"] is True
    assert line["late_entry_reason"] == "Panne informatique du 12, saisie a posteriori"
    assert dt.datetime.fromisoformat(line["occurred_at"]) == occurred
    assert dt.datetime.fromisoformat(line["recorded_at"]) - occurred >= dt.timedelta(days=3)
    listed = api(inspector).get(f"{MOVEMENTS}{line['id']}/").json()
    assert listed["late_entry"] is True
    # The number is the next one even though the date is older: order numbers follow recording.
    previous = Movement.objects.filter(establishment=demo["DEMO"], number=line["number"] - 1).get()
    assert previous.occurred_at > occurred
    assert register_verify(demo["DEMO"]).ok


def test_a_recent_backdated_line_needs_no_reason_and_is_not_flagged(api, technician, lot_50):
    """A line dated a few hours ago (within 24 h) is an ordinary line."""
    answer = _post(api(technician), lot_50, timezone.now() - dt.timedelta(hours=20))
    assert answer.status_code == 201, answer.content
    assert answer.json()["late_entry"] is False and answer.json()["late_entry_reason"] == ""


def test_a_line_without_a_date_is_dated_now(api, technician, lot_50):
    """Without occurred_at the line is dated at recording time."""
    before = timezone.now()
    answer = _post(api(technician), lot_50, None)
    assert answer.status_code == 201
    occurred = dt.datetime.fromisoformat(answer.json()["occurred_at"])
    assert before - dt.timedelta(seconds=1) <= occurred <= timezone.now()


def test_a_late_exit_is_refused_before_any_stock_check(api, technician, lot_50):
    """A late exit without a reason is refused for its date, even when the stock would not allow it."""
    answer = api(technician).post(MOVEMENTS, {
        "direction": "exit", "reason": "loss", "lot": lot_50.pk, "quantity": 10_000, "counterparty": "x",
        "occurred_at": (timezone.now() - dt.timedelta(days=2)).isoformat(),
    }, format="json")
    assert answer.status_code == 400 and answer.json()["code"] == "late_entry_reason_required"
