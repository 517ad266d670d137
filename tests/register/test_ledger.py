"""The ledger: one writer, gap-free numbers, hash chain, balances, append-only in the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from config.errors import DomainError, InvalidInput
from register import services
from register.chain import (
    CHAIN_FIELDS,
    GENESIS_HASH,
    ChainVerifier,
    hash_from_parts,
    hash_payload,
    line_hash_parts,
    line_payload,
    row_hash,
)
from register.models import Movement, RegisterHead, StockBalance
from register.selectors import chain_rows, register_verify
from tests.conftest import tamper_as_superuser


def _exit(actor: Any, lot: Any, quantity: int = 1, **kwargs: Any) -> Movement:
    return services.movement_record(
        actor=actor, lot=lot, direction="exit", reason="loss", quantity=quantity, counterparty="test", **kwargs
    )


def test_it_numbers_lines_without_gaps_and_chains_them(pharmacist, demo, make_lot):
    """Each line takes the next order number and links to the previous line's hash."""
    lot = make_lot(units=10)
    first = Movement.objects.filter(establishment=demo["DEMO"]).order_by("number").first()
    assert first.number == 1 and first.prev_hash == GENESIS_HASH
    line = _exit(pharmacist, lot, 2)
    previous = Movement.objects.get(establishment=demo["DEMO"], number=line.number - 1)
    assert line.prev_hash == previous.hash
    numbers = list(Movement.objects.filter(establishment=demo["DEMO"]).order_by("number").values_list("number", flat=True))
    assert numbers == list(range(1, len(numbers) + 1))
    assert line.balance_after == 8
    assert StockBalance.objects.get(lot=lot).on_hand == 8
    assert register_verify(demo["DEMO"]).ok


def test_numbers_are_per_establishment(demo, make_lot, outsider):
    """The OTHER establishment has its own numbering, starting at 1."""
    numbers = set(Movement.objects.filter(establishment=demo["OTHER"]).values_list("number", flat=True))
    assert min(numbers) == 1
    lot = make_lot(establishment=demo["OTHER"], units=3, batch="O-1")
    assert Movement.objects.get(lot=lot).number == len(numbers) + 1


def test_it_refuses_an_exit_beyond_stock_and_leaves_no_trace(pharmacist, demo, make_lot):
    """An exit larger than the balance is refused with insufficient_stock; number not consumed."""
    lot = make_lot(units=3)
    head_before = RegisterHead.objects.get(establishment=demo["DEMO"]).last_number
    with pytest.raises(DomainError) as refused:
        _exit(pharmacist, lot, 4)
    assert refused.value.code == "insufficient_stock"
    assert RegisterHead.objects.get(establishment=demo["DEMO"]).last_number == head_before
    assert StockBalance.objects.get(lot=lot).on_hand == 3
    line = _exit(pharmacist, lot, 3)
    assert line.number == head_before + 1 and line.balance_after == 0


def test_it_refuses_an_exit_from_an_empty_location(pharmacist, demo, make_lot):
    """No balance row at all is still insufficient stock."""
    lot = make_lot(units=0)
    with pytest.raises(DomainError) as refused:
        _exit(pharmacist, lot, 1)
    assert refused.value.code == "insufficient_stock"


@pytest.mark.parametrize("quantity", [0, -1, 1.5, True, "3"])
def test_it_refuses_a_quantity_that_is_not_a_positive_whole_number(pharmacist, lot_50, quantity):
    """Quantities are whole units greater than zero."""
    with pytest.raises(InvalidInput):
        _exit(pharmacist, lot_50, quantity)


def test_it_refuses_a_movement_in_the_future(pharmacist, lot_50):
    """The register records what happened: occurred_at in the future is refused."""
    with pytest.raises(InvalidInput) as refused:
        _exit(pharmacist, lot_50, 1, occurred_at=timezone.now() + dt.timedelta(hours=1))
    assert refused.value.code == "occurred_in_future"


def test_a_late_entry_needs_a_reason_and_is_kept(pharmacist, lot_50):
    """A line dated more than 24 h ago needs late_entry_reason, which is stored on the line."""
    two_days_ago = timezone.now() - dt.timedelta(days=2)
    with pytest.raises(InvalidInput) as refused:
        _exit(pharmacist, lot_50, 1, occurred_at=two_days_ago)
    assert refused.value.code == "late_entry_reason_required"
    line = _exit(pharmacist, lot_50, 1, occurred_at=two_days_ago, late_entry_reason="Saisie papier en panne informatique")
    assert line.late_entry_reason.startswith("Saisie papier")


def test_it_refuses_a_movement_dated_before_the_narcotic_listing(pharmacist, lot_50):
    """Before 2017-04-24 ketamine was on list I: not a narcotic register movement."""
    with pytest.raises(DomainError) as refused:
        _exit(pharmacist, lot_50, 1, occurred_at=dt.datetime(2017, 4, 23, 12, tzinfo=dt.UTC), late_entry_reason="old")
    assert refused.value.code == "not_narcotic_on_date"


def test_it_refuses_a_location_of_another_establishment(pharmacist, demo, lot_50):
    """A lot cannot move through another establishment's location."""
    foreign = demo["OTHER"].locations.get(code="VAULT")
    with pytest.raises(DomainError) as refused:
        _exit(pharmacist, lot_50, 1, location=foreign)
    assert refused.value.code == "location_mismatch"


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE register_movement SET quantity = 1 WHERE id = %s",
        "DELETE FROM register_movement WHERE id = %s",
        "TRUNCATE register_movement CASCADE",
    ],
)
def test_the_database_refuses_to_change_a_line(lot_50, statement):
    """UPDATE, DELETE and TRUNCATE on the ledger fail in PostgreSQL itself (trigger)."""
    line = Movement.objects.filter(lot=lot_50).first()
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks block TRUNCATE
            cursor.execute(statement, [line.pk] if "%s" in statement else None)
    assert Movement.objects.get(pk=line.pk).quantity == line.quantity


def test_the_orm_cannot_change_a_line_either(lot_50):
    """Saving an existing line through the ORM is refused by the same trigger."""
    line = Movement.objects.filter(lot=lot_50).first()
    line.quantity = 999
    with pytest.raises(DatabaseError), transaction.atomic():
        line.save()


def test_verification_names_the_line_a_superuser_tampered_with(pharmacist, demo, make_lot):
    """With the trigger disabled by a superuser, an edited quantity is caught by the chain."""
    lot = make_lot(units=10)
    target = _exit(pharmacist, lot, 2)
    _exit(pharmacist, lot, 1)
    assert register_verify(demo["DEMO"]).ok
    tamper_as_superuser("UPDATE register_movement SET quantity = 1 WHERE id = %s", [target.pk])
    result = register_verify(demo["DEMO"])
    assert not result.ok
    assert result.first_broken == target.number


def test_the_fast_row_hash_is_the_stored_hash(pharmacist, demo, make_lot):
    """``row_hash`` (verification's hot path) hashes the same bytes as the writer's payload."""
    lot = make_lot(units=10)
    _exit(pharmacist, lot, 2, note="Ampoule cassée « 50 mg » — ½ \"quoted\"\nligne 2")
    lines = list(chain_rows(demo["DEMO"]))
    assert len(lines) >= 2
    for row, movement in zip(lines, Movement.objects.filter(establishment=demo["DEMO"]).order_by("number"),
                             strict=True):
        stored = dict(zip(CHAIN_FIELDS, row, strict=True))["hash"]
        assert row_hash(demo["DEMO"].code, row) == stored
        assert hash_payload(services.movement_payload(movement, establishment_code=demo["DEMO"].code)) == stored


AWKWARD = "tab\there\u2028 « é » 😀 \\ \"q\" \x1f \u202e ½"


def test_the_database_hashes_awkward_text_as_the_python_payload_does(pharmacist, demo, make_lot):
    """The stored hash is computed by register_append in PostgreSQL from parts written in Python:
    it must be the hash of the canonical payload, whatever the text (escapes, astral, controls)."""
    lot = make_lot(units=10)
    moved = services.movement_record(
        actor=pharmacist, lot=lot, direction="exit", reason="loss", quantity=1, counterparty=AWKWARD,
        note=AWKWARD, patient_name=AWKWARD, occurred_at=timezone.now() - dt.timedelta(microseconds=1),
    )
    reverse = services.movement_reverse(actor=pharmacist, movement=moved, reason=AWKWARD)
    for movement in (moved, reverse):
        stored = Movement.objects.select_related("lot", "location", "reverses", "paired_with").get(pk=movement.pk)
        expected = hash_payload(services.movement_payload(stored, establishment_code=demo["DEMO"].code))
        assert stored.hash == movement.hash == expected
    assert register_verify(demo["DEMO"]).ok


def test_hash_parts_give_the_payload_hash():
    """line_hash_parts + the three lock-time values = hash_payload(line_payload(...)), byte for byte."""
    when = dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=dt.UTC)
    for links in ((None, None), (12, 7)):
        content = {
            "establishment_code": "DÉMO\"", "location_code": "VAULT", "lot_id": 4, "batch_number": 'B"\\1',
            "product_id": 2, "direction": "exit", "reason": "reversal", "quantity": 3, "counterparty": AWKWARD,
            "prescriber_name": "Dr \x00\x1f", "prescriber_address": "1 rue\n75000", "patient_name": "Ünïcode",
            "patient_address": "", "occurred_at": when, "recorded_at": when + dt.timedelta(days=2),
            "recorded_by_name": "pharmacist", "note": AWKWARD, "late_entry_reason": "panne",
            "reverses_number": links[0], "paired_with_number": links[1],
        }
        expected = hash_payload(line_payload(**content, number=13, balance_after=0, prev_hash="a" * 64))
        assert hash_from_parts(line_hash_parts(**content), balance_after=0, number=13, prev_hash="a" * 64) == expected


def test_the_fast_row_hash_matches_the_payload_hash_on_awkward_values():
    """Quotes, backslashes, control and astral characters, links set or null: same bytes hashed."""
    when = dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=dt.UTC)
    for links in ((None, None), (12, 7)):
        fields = {
            "number": 13, "location_code": "VAULT", "lot_id": 4, "batch_number": 'B"\\1', "product_id": 2,
            "direction": "exit", "reason": "reversal", "quantity": 3, "balance_after": 0,
            "counterparty": "tab\there\u2028 « é » 😀", "prescriber_name": "Dr \x00\x1f",
            "prescriber_address": "1 rue\n75000", "patient_name": "Ünïcode ½", "patient_address": "",
            "occurred_at": when, "recorded_at": when + dt.timedelta(days=2), "recorded_by_name": "pharmacist",
            "note": "\u202enote", "late_entry_reason": "panne", "reverses_number": links[0],
            "paired_with_number": links[1], "prev_hash": "a" * 64,
        }
        row = {
            "number": 13, "location__code": "VAULT", "lot_id": 4, "lot__batch_number": fields["batch_number"],
            "lot__product_id": 2, "direction": "exit", "reason": "reversal", "quantity": 3, "balance_after": 0,
            "counterparty": fields["counterparty"], "prescriber_name": fields["prescriber_name"],
            "prescriber_address": fields["prescriber_address"], "patient_name": fields["patient_name"],
            "patient_address": "", "occurred_iso": "2024-02-29T23:59:59.123456+00:00",
            "recorded_iso": "2024-03-02T23:59:59.123456+00:00", "recorded_by_name": "pharmacist",
            "note": fields["note"], "late_entry_reason": "panne", "reverses__number": links[0],
            "paired_with__number": links[1], "prev_hash": "a" * 64, "location_id": 1, "hash": "",
        }
        values = tuple(row[name] for name in CHAIN_FIELDS)
        expected = hash_payload(line_payload(establishment_code="DEMO", **fields))
        assert row_hash("DEMO", values) == expected
        # The PDF export's rows go on with display fields after the chain's.
        assert row_hash("DEMO", (*values, "Kétamine", "Coffre", None, True)) == expected


def test_the_chain_verifier_names_the_first_broken_line_and_ignores_the_rest(pharmacist, demo, make_lot):
    """``ChainVerifier.feed`` reports the first problem only; ``finish`` repeats it."""
    lot = make_lot(units=10)
    target = _exit(pharmacist, lot, 2)
    _exit(pharmacist, lot, 1)
    rows = list(chain_rows(demo["DEMO"]))
    quantity = CHAIN_FIELDS.index("quantity")
    tampered = rows[target.number - 1]
    rows[target.number - 1] = (*tampered[:quantity], 3, *tampered[quantity + 1 :])
    verifier = ChainVerifier(demo["DEMO"].code)
    problems = [verifier.feed(row) for row in rows]
    assert [problem is not None for problem in problems].count(True) == 1
    assert problems[target.number - 1] == f"line {target.number}: content does not match its hash"
    result = verifier.finish(head=None, cached=None)
    assert not result.ok and result.first_broken == target.number and result.lines == target.number - 1


def test_verification_finds_a_deleted_line(pharmacist, demo, make_lot):
    """Removing a line in the middle leaves a gap in the order numbers."""
    lot = make_lot(units=10)
    target = _exit(pharmacist, lot, 2)
    _exit(pharmacist, lot, 1)
    tamper_as_superuser("DELETE FROM register_movement WHERE id = %s", [target.pk])
    result = register_verify(demo["DEMO"])
    assert not result.ok and result.first_broken == target.number


def test_verification_catches_a_stale_stock_cache(pharmacist, demo, lot_50):
    """The balance cache must equal the ledger; a tampered cache is reported."""
    StockBalance.objects.filter(lot=lot_50).update(on_hand=1)
    result = register_verify(demo["DEMO"])
    assert not result.ok and "cached stock" in result.problem


def test_the_database_refuses_a_negative_balance_and_a_duplicate_number(demo, lot_50):
    """CHECK and UNIQUE constraints stand behind the service's checks."""
    with pytest.raises(DatabaseError), transaction.atomic():
        StockBalance.objects.filter(lot=lot_50).update(on_hand=-1)
    line = Movement.objects.filter(lot=lot_50).first()
    line.pk = None
    line.hash = "f" * 64
    with pytest.raises(DatabaseError), transaction.atomic():
        line.save(force_insert=True)


def test_text_longer_than_its_column_is_refused_not_cut(pharmacist, demo, make_lot):
    """PostgreSQL cuts trailing spaces past a varchar's length without a word, which would leave a
    line that no longer matches its hash: the writer refuses the text instead; at the limit it is kept."""
    lot = make_lot(units=5)

    def loss(**text: str) -> Movement:
        return services.movement_record(actor=pharmacist, lot=lot, direction="exit", reason="loss", quantity=1,
                                        **{"counterparty": "x", **text})

    with pytest.raises(InvalidInput) as refused:
        loss(counterparty="a" * 500 + "   ")
    assert "counterparty" in refused.value.fields
    with pytest.raises(InvalidInput):
        loss(patient_name="p" * 201)
    kept = loss(counterparty="a" * 499 + " ")
    assert Movement.objects.get(pk=kept.pk).counterparty == "a" * 499 + " "
    assert register_verify(demo["DEMO"]).ok


def test_register_append_writes_every_column_of_a_line_and_of_its_audit_event():
    """The database function lists its columns by hand: a field added to Movement or AuditEvent
    must be added there too (or get a database default), which this test points out."""
    import importlib
    import re

    from audit.models import AuditEvent

    sql = importlib.import_module("register.migrations.0005_register_append").CREATE
    for model in (Movement, AuditEvent):
        listed = re.search(rf"INSERT INTO {model._meta.db_table} \(([^)]*)\)", sql)
        assert listed is not None
        columns = {name.strip() for name in listed.group(1).split(",")}
        assert columns == {field.column for field in model._meta.concrete_fields if not field.primary_key}


def test_lot_to_move_loads_what_the_orm_loads_and_only_the_callers_lots(pharmacist, outsider, demo, make_lot):
    """The hand-written lot lookup of an append: same scoping as lots_for, same field values."""
    from django.contrib.auth.models import AnonymousUser

    from register.models import Lot
    from register.selectors import lot_to_move, lots_for

    lot = make_lot(units=1)
    loaded = lot_to_move(pharmacist, lot.pk)
    expected = lots_for(pharmacist).get(pk=lot.pk)
    assert loaded is not None
    for mine, theirs in ((loaded, expected), (loaded.product, expected.product),
                         (loaded.establishment, expected.establishment)):
        for field in type(theirs)._meta.concrete_fields:
            assert getattr(mine, field.attname) == getattr(theirs, field.attname), field.name
    other = Lot.objects.filter(establishment=demo["OTHER"]).first()
    assert lot_to_move(pharmacist, other.pk) is None
    assert lot_to_move(outsider, lot.pk) is None
    assert lot_to_move(AnonymousUser(), lot.pk) is None
    assert lot_to_move(pharmacist, 2**62) is None


def test_a_line_added_beyond_the_head_by_hand_is_reported(pharmacist, demo, make_lot):
    """A line inserted without the register (the head never moved to it) breaks verification,
    even though verification only walks the lines up to the head it read."""
    lot = make_lot(units=3)
    last = _exit(pharmacist, lot, 1)
    assert register_verify(demo["DEMO"]).ok
    forged = Movement.objects.get(pk=last.pk)
    forged.pk, forged.number, forged.hash = None, last.number + 1, "f" * 64
    forged.save(force_insert=True)
    result = register_verify(demo["DEMO"])
    assert not result.ok
    assert result.first_broken == last.number + 1


@pytest.mark.parametrize(
    ("change", "constraint"),
    [
        ({"occurred_at_shift": dt.timedelta(minutes=3)}, "movement_not_in_future"),
        ({"occurred_at_shift": -dt.timedelta(hours=25), "late_entry_reason": ""}, "movement_late_entry_has_reason"),
    ],
)
def test_the_database_refuses_a_line_breaking_the_time_rules(pharmacist, make_lot, change, constraint):
    """A line written past movement_record (by hand, by a future bug) still cannot be dated in
    the future of its recording, nor be a late entry without its reason."""
    lot = make_lot(units=3)
    line = Movement.objects.get(pk=_exit(pharmacist, lot, 1).pk)
    line.pk, line.number, line.hash = None, line.number + 1, "e" * 64
    line.occurred_at = line.recorded_at + change["occurred_at_shift"]
    line.late_entry_reason = change.get("late_entry_reason", line.late_entry_reason)
    with pytest.raises(DatabaseError, match=constraint), transaction.atomic():
        line.save(force_insert=True)
