"""Idempotency-Key on stock-changing writes: replay, reuse refused, per user, one write under concurrency."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from django.db import connection

from audit.models import AuditEvent, IdempotencyKey
from register.models import Movement

MOVEMENTS = "/api/v1/movements/"


def _exit_body(lot: Any, quantity: int = 1) -> dict[str, Any]:
    return {"direction": "exit", "reason": "loss", "lot": lot.pk, "quantity": quantity, "counterparty": "casse"}


def _post(client: Any, url: str, body: dict[str, Any], key: str | None) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(url, body, format="json", **headers)


def test_the_same_key_and_body_replays_the_first_answer(api, pharmacist, lot_50):
    """The retry answers the same status and body, and writes no second line nor event."""
    client = api(pharmacist)
    first = _post(client, MOVEMENTS, _exit_body(lot_50), "key-1")
    lines = Movement.objects.count()
    events = AuditEvent.objects.filter(action="register.movement.recorded").count()
    again = _post(client, MOVEMENTS, _exit_body(lot_50), "key-1")
    assert first.status_code == again.status_code == 201
    assert again.content == first.content and again["Idempotent-Replayed"] == "true"
    assert Movement.objects.count() == lines
    assert AuditEvent.objects.filter(action="register.movement.recorded").count() == events


def test_without_a_key_each_post_writes(api, pharmacist, lot_50):
    """No header, no replay: two posts are two lines."""
    client = api(pharmacist)
    numbers = {_post(client, MOVEMENTS, _exit_body(lot_50), None).json()["number"] for _ in range(2)}
    assert len(numbers) == 2


def test_a_key_reused_with_another_body_is_a_409(api, pharmacist, lot_50):
    """Same key, other quantity: 409 idempotency_key_reused, nothing written."""
    client = api(pharmacist)
    _post(client, MOVEMENTS, _exit_body(lot_50, 1), "key-2")
    lines = Movement.objects.count()
    reused = _post(client, MOVEMENTS, _exit_body(lot_50, 2), "key-2")
    assert reused.status_code == 409 and reused.json()["code"] == "idempotency_key_reused"
    assert Movement.objects.count() == lines


def test_keys_are_scoped_per_user(api, pharmacist, technician, lot_50):
    """Two users sending the same key get two writes, not each other's answer."""
    first = _post(api(pharmacist), MOVEMENTS, _exit_body(lot_50), "shared-key")
    second = _post(api(technician), MOVEMENTS, _exit_body(lot_50), "shared-key")
    assert first.status_code == second.status_code == 201
    assert first.json()["number"] != second.json()["number"]
    assert second.json()["recorded_by"] == "technician"


def test_a_refused_write_keeps_no_key(api, pharmacist, lot_50):
    """insufficient_stock leaves neither a line nor a stored answer: the retry runs again."""
    client = api(pharmacist)
    for _ in range(2):
        refused = _post(client, MOVEMENTS, _exit_body(lot_50, 10_000), "key-3")
        assert refused.status_code == 409 and refused.json()["code"] == "insufficient_stock"
    assert not IdempotencyKey.objects.filter(key="key-3").exists()


def test_a_reversal_retried_with_its_key_is_replayed_not_refused(api, pharmacist, lot_50):
    """The second POST .../reverse/ answers the first reversal instead of 409 already_reversed."""
    client = api(pharmacist)
    line = _post(client, MOVEMENTS, _exit_body(lot_50), None).json()
    url = f"/api/v1/movements/{line['id']}/reverse/"
    first = _post(client, url, {"reason": "saisie en double"}, "rev-1")
    again = _post(client, url, {"reason": "saisie en double"}, "rev-1")
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert Movement.objects.filter(reverses_id=line["id"]).count() == 1
    other_path = _post(client, f"/api/v1/movements/{line['id'] - 1}/reverse/", {"reason": "saisie en double"}, "rev-1")
    assert other_path.status_code == 409 and other_path.json()["code"] == "idempotency_key_reused"


def test_an_unusable_key_is_a_400(api, pharmacist, lot_50):
    """An empty, overlong or unprintable key is refused in the error format."""
    client = api(pharmacist)
    for key in ("x" * 256, "   ", "a\tb"):
        response = _post(client, MOVEMENTS, _exit_body(lot_50), key)
        assert response.status_code == 400 and response.json()["code"] == "invalid_idempotency_key"


def test_concurrent_requests_with_one_key_write_once(committed_db, demo, pharmacist, lot_50):
    """Eight threads post the same key at once: one line is written, every answer is that line."""
    from tests.conftest import client_for

    key = uuid.uuid4().hex
    before = Movement.objects.filter(establishment=demo["DEMO"]).count()
    barrier = threading.Barrier(8)
    answers: list[Any] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            client = client_for(pharmacist)
            barrier.wait()
            response = _post(client, MOVEMENTS, _exit_body(lot_50), key)
            with lock:
                answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Movement.objects.filter(establishment=demo["DEMO"]).count() == before + 1
    assert {status for status, _ in answers} == {201}
    assert len({body["id"] for _, body in answers}) == 1


def test_a_dispensation_retried_with_its_key_is_dispensed_once(api, pharmacist, prescriber, lot_50, demo):
    """POST /prescriptions/{id}/dispensations/ replays with the same key: one ledger line, one dispensation."""
    import datetime as dt
    from decimal import Decimal

    from django.utils import timezone

    from prescriptions import services as presc
    from prescriptions.models import Dispensation

    patient = presc.patient_create(actor=prescriber, establishment=demo["DEMO"], last_name="Petit", first_name="Anne",
                                   sex="F", birth_date=dt.date(1975, 6, 1), address="5 rue Basse, 75002 Paris")
    issued = presc.prescription_issue(
        actor=prescriber, patient=patient, secure_form_lot="SF-IDEM-1", declared_lines=1,
        issued_on=timezone.localdate(), duration_days=7,
        lines=[presc.LineInput(product=lot_50.product, kind="bolus", dose_mg=Decimal(50), doses_per_day=1)],
    )
    url = f"/api/v1/prescriptions/{issued.prescription.pk}/dispensations/"
    client = api(pharmacist)
    lines = Movement.objects.count()
    first = _post(client, url, {"lot": lot_50.pk, "quantity": 1}, "disp-1")
    again = _post(client, url, {"lot": lot_50.pk, "quantity": 1}, "disp-1")
    assert first.status_code == again.status_code == 201 and again.content == first.content
    assert Dispensation.objects.filter(prescription=issued.prescription).count() == 1
    assert Movement.objects.count() == lines + 1


def test_old_keys_are_purged_and_the_purge_is_audited(api, pharmacist, lot_50):
    """purge_idempotency_keys deletes keys older than the retention only; the lines stay."""
    import datetime as dt
    from io import StringIO

    import pytest
    from django.core.management import CommandError, call_command
    from django.utils import timezone

    client = api(pharmacist)
    assert _post(client, MOVEMENTS, _exit_body(lot_50), "old-key").status_code == 201
    # The claim is stamped by the database clock (now() in the INSERT): age it there.
    IdempotencyKey.objects.filter(key="old-key").update(created_at=timezone.now() - dt.timedelta(days=31))
    assert _post(client, MOVEMENTS, _exit_body(lot_50), "new-key").status_code == 201
    lines = Movement.objects.count()
    out = StringIO()
    call_command("purge_idempotency_keys", "--days", "30", stdout=out)
    assert "1 idempotency key(s)" in out.getvalue()
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new-key"]
    assert Movement.objects.count() == lines
    assert AuditEvent.objects.filter(action="idempotency.keys.purged").get().data == {"days": 30, "deleted": 1}
    with pytest.raises(CommandError):
        call_command("purge_idempotency_keys", "--days", "0")
