"""Concurrent appends on real PostgreSQL: the register lock keeps numbers and balances right."""

from __future__ import annotations

import threading
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection

from config.errors import DomainError
from register import services
from register.models import Lot, Movement
from register.selectors import register_verify


def test_it_lets_exactly_the_stock_out_under_contention(committed_db, demo, make_lot):
    """8 threads x 10 exits of 1 unit on a lot of 50: exactly 50 pass, numbers stay gap-free."""
    lot = make_lot(units=50, batch="RACE-1")
    actor = get_user_model().objects.get(username="pharmacist")
    results: dict[str, int] = {"ok": 0, "insufficient_stock": 0, "other": 0}
    guard = threading.Lock()
    start = threading.Barrier(8)

    def worker() -> None:
        try:
            mine = Lot.objects.select_related("product__substance", "establishment").get(pk=lot.pk)
            start.wait()
            for _ in range(10):
                try:
                    services.movement_record(
                        actor=actor, lot=mine, direction="exit", reason="loss", quantity=1, counterparty="race"
                    )
                    outcome = "ok"
                except DomainError as refused:
                    outcome = refused.code if refused.code == "insufficient_stock" else "other"
                with guard:
                    results[outcome] += 1
        finally:
            connection.close()  # each thread had its own connection

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert results == {"ok": 50, "insufficient_stock": 30, "other": 0}
    numbers = list(
        Movement.objects.filter(establishment=demo["DEMO"]).order_by("number").values_list("number", flat=True)
    )
    assert numbers == list(range(1, len(numbers) + 1))
    assert Movement.objects.filter(lot=lot, direction="exit").count() == 50
    assert register_verify(demo["DEMO"]).ok


def test_concurrent_receipts_in_two_establishments_do_not_share_numbers(committed_db, demo, make_lot):
    """Each establishment's numbering is its own even when both write at once."""
    lots = {code: make_lot(establishment=demo[code], units=1, batch=f"PAR-{code}") for code in ("DEMO", "OTHER")}
    users: dict[str, Any] = {
        "DEMO": get_user_model().objects.get(username="pharmacist"),
        "OTHER": get_user_model().objects.get(username="outsider"),
    }

    def worker(code: str) -> None:
        try:
            for _ in range(15):
                services.movement_record(actor=users[code], lot=lots[code], direction="entry", reason="receipt",
                                         quantity=1, counterparty="supplier")
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(code,)) for code in ("DEMO", "OTHER")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for code in ("DEMO", "OTHER"):
        numbers = list(Movement.objects.filter(establishment=demo[code]).order_by("number").values_list("number", flat=True))
        assert numbers == list(range(1, len(numbers) + 1))
        assert register_verify(demo[code]).ok


def test_refusals_in_autocommit_leave_no_trace(committed_db, demo, make_lot):
    """Called outside any transaction, register_append is its own transaction: a refusal raised
    under the lock (stock, quarantine seen only there, listing) rolls back the number it took,
    the balance and the audit event, and the next line still takes the next number."""
    import datetime as dt

    from django.utils import timezone

    from audit.models import AuditEvent
    from register.models import RegisterHead, StockBalance

    lot = make_lot(units=2, batch="AUTO-1")
    actor = get_user_model().objects.get(username="pharmacist")
    assert not connection.in_atomic_block
    head_before = RegisterHead.objects.get(establishment=demo["DEMO"]).last_number
    events_before = AuditEvent.objects.count()
    stale = Lot.objects.select_related("product__substance", "establishment").get(pk=lot.pk)

    def refused(**kwargs: Any) -> str:
        base = {"actor": actor, "lot": stale, "direction": "exit", "reason": "loss", "quantity": 1, "counterparty": "x"}
        try:
            services.movement_record(**{**base, **kwargs})
        except DomainError as error:
            return error.code
        raise AssertionError("the line was accepted")

    assert refused(quantity=3) == "insufficient_stock"
    before_listing = timezone.make_aware(dt.datetime(2017, 4, 1, 12, 0))
    assert refused(direction="entry", reason="return", occurred_at=before_listing, late_entry_reason="archives") == (
        "not_narcotic_on_date"
    )
    Lot.objects.filter(pk=lot.pk).update(quarantined_at=timezone.now())  # after `stale` was read
    assert refused() == "lot_quarantined"

    assert RegisterHead.objects.get(establishment=demo["DEMO"]).last_number == head_before
    assert AuditEvent.objects.count() == events_before
    assert StockBalance.objects.get(lot=lot).on_hand == 2
    line = services.movement_record(actor=actor, lot=stale, direction="exit", reason="destruction", quantity=1,
                                    counterparty="x")
    assert line.number == head_before + 1
    assert register_verify(demo["DEMO"]).ok
    connection.close()


def test_verification_while_lines_are_appended_finds_nothing_wrong(committed_db, demo, make_lot):
    """An inspector verifying during the pharmacy's rush must not be told the register is broken:
    the head and the stock cache are read as one state, and the lines up to that head checked."""
    lot = make_lot(units=1, batch="VERIFY-RUSH")
    actor = get_user_model().objects.get(username="pharmacist")
    done = threading.Event()

    def writer() -> None:
        try:
            while not done.is_set():
                services.movement_record(actor=actor, lot=lot, direction="entry", reason="receipt", quantity=1,
                                         counterparty="rush")
        finally:
            connection.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        verdicts = [register_verify(demo["DEMO"]) for _ in range(15)]
    finally:
        done.set()
        thread.join()
    assert [v.problem for v in verdicts if not v.ok] == []
    assert verdicts[-1].lines > verdicts[0].lines  # lines really were being appended meanwhile
