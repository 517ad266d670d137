"""Theft and loss (R.5132-80): the exit line, the circumstances, the declaration checklist."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from operations.models import TheftLossReport
from register.models import Movement
from register.selectors import register_verify
from tests.operations.helpers import on_hand


def _report(api: Any, user: Any, lot: Any, kind: str = "theft", quantity: int = 2, **overrides: Any) -> Any:
    body = {"kind": kind, "lot": lot.pk, "quantity": quantity,
            "circumstances": "Armoire forcée constatée à l'ouverture de la pharmacie."}
    body.update(overrides)
    return api(user).post("/api/v1/theft-loss-reports/", body, format="json")


def test_a_theft_is_an_exit_line_with_a_report_and_an_open_checklist(api, pharmacist, demo, lot_50):
    """201: the line has reason theft, the report lists police, ARS and ANSM as missing."""
    answer = _report(api, pharmacist, lot_50)
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["movement"]["reason"] == "theft" and body["movement"]["direction"] == "exit"
    assert body["missing_steps"] == ["police", "ars", "ansm"] and body["complete"] is False
    assert on_hand(lot_50) == 38
    assert register_verify(demo["DEMO"]).ok


def test_a_loss_is_recorded_the_same_way(api, pharmacist, demo, lot_50):
    """kind loss writes a line with reason loss."""
    answer = _report(api, pharmacist, lot_50, kind="loss", quantity=1)
    assert answer.status_code == 201 and answer.json()["movement"]["reason"] == "loss"
    assert register_verify(demo["DEMO"]).ok


def test_the_checklist_steps_are_recorded_once_with_their_time(api, pharmacist, lot_50):
    """Each step is recorded with its time; a second record of the same step is refused."""
    discovered_at = timezone.now() - dt.timedelta(hours=2)
    report = _report(api, pharmacist, lot_50, discovered_at=discovered_at.isoformat()).json()
    assert dt.datetime.fromisoformat(report["discovered_at"]) == discovered_at
    done_at = timezone.now() - dt.timedelta(minutes=5)
    step = api(pharmacist).post(f"/api/v1/theft-loss-reports/{report['id']}/steps/",
                                {"step": "police", "done_at": done_at.isoformat(), "reference": "PV 2026/123"}, format="json")
    assert step.status_code == 201 and step.json()["step"] == "police"
    assert dt.datetime.fromisoformat(step.json()["done_at"]) == done_at
    again = api(pharmacist).post(f"/api/v1/theft-loss-reports/{report['id']}/steps/", {"step": "police"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "step_already_recorded"


def test_the_dashboard_lists_incomplete_reports_only(api, pharmacist, lot_50):
    """?incomplete=1 lists a report until police, ARS and ANSM are all recorded."""
    first = _report(api, pharmacist, lot_50).json()
    second = _report(api, pharmacist, lot_50, kind="loss", quantity=1).json()
    for step in ("police", "ars", "ansm"):
        api(pharmacist).post(f"/api/v1/theft-loss-reports/{first['id']}/steps/", {"step": step}, format="json")
    incomplete = api(pharmacist).get("/api/v1/theft-loss-reports/?incomplete=1").json()
    assert [report["id"] for report in incomplete["results"]] == [second["id"]]
    assert api(pharmacist).get(f"/api/v1/theft-loss-reports/{first['id']}/").json()["complete"] is True


def test_it_requires_the_circumstances(api, pharmacist, lot_50):
    """No circumstances: 400, nothing written."""
    answer = _report(api, pharmacist, lot_50, circumstances="   ")
    assert answer.status_code == 400
    assert not Movement.objects.filter(reason="theft").exists()


def test_it_refuses_more_than_the_stock_and_leaves_no_report(api, pharmacist, lot_50):
    """Stealing 41 of 40 units is insufficient_stock; no report either."""
    answer = _report(api, pharmacist, lot_50, quantity=41)
    assert answer.status_code == 409 and answer.json()["code"] == "insufficient_stock"
    assert not TheftLossReport.objects.exists()


@pytest.mark.parametrize("offset", [dt.timedelta(hours=1), -dt.timedelta(days=3)])
def test_a_step_cannot_be_dated_in_the_future_or_before_the_event(api, pharmacist, lot_50, offset):
    """A declaration in the future, or before the theft was found, is bad input."""
    report = _report(api, pharmacist, lot_50).json()
    answer = api(pharmacist).post(f"/api/v1/theft-loss-reports/{report['id']}/steps/",
                                  {"step": "ars", "done_at": (timezone.now() + offset).isoformat()}, format="json")
    assert answer.status_code == 400


def test_reports_and_steps_are_append_only(api, pharmacist, lot_50):
    """The database refuses to change a report or a recorded step."""
    report = _report(api, pharmacist, lot_50).json()
    api(pharmacist).post(f"/api/v1/theft-loss-reports/{report['id']}/steps/", {"step": "ansm"}, format="json")
    for statement in (
        "UPDATE operations_theftlossreport SET circumstances = 'x' WHERE id = %s",
        "UPDATE operations_theftlossreportstep SET done_at = now() WHERE report_id = %s",
        "DELETE FROM operations_theftlossreportstep WHERE report_id = %s",
    ):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement, [report["id"]])


def test_roles_and_scope(api, pharmacist, technician, inspector, outsider, lot_50):
    """Only a pharmacist reports; the inspector reads; another establishment sees nothing."""
    assert _report(api, technician, lot_50).status_code == 403
    report = _report(api, pharmacist, lot_50).json()
    assert api(inspector).get(f"/api/v1/theft-loss-reports/{report['id']}/").status_code == 200
    assert api(inspector).post(f"/api/v1/theft-loss-reports/{report['id']}/steps/", {"step": "ars"}, format="json").status_code == 403
    assert api(outsider).get(f"/api/v1/theft-loss-reports/{report['id']}/").status_code == 404
    assert api(outsider).post(f"/api/v1/theft-loss-reports/{report['id']}/steps/", {"step": "ars"}, format="json").status_code == 404
