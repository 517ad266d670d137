"""The hash chain over register lines (tamper evidence, R.5132-36 "integrity on a durable medium").

Each line's hash is SHA-256 over a canonical JSON serialisation of its content plus the previous
line's hash. Changing any stored field of any line, or removing one, breaks the chain from there.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64

# One encoder, built once: ``json.dumps`` with options builds a new encoder on every call, which
# shows when a whole register is re-hashed. Same options, so the same bytes and the same hashes.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
# The string escaping the encoder above applies (ensure_ascii=False), for ``row_hash``.
_encode_string = json.encoder.encode_basestring
_UTC = dt.UTC


def _iso(value: dt.datetime) -> str:
    return value.astimezone(_UTC).isoformat(timespec="microseconds")


def line_payload(
    *,
    establishment_code: str,
    number: int,
    location_code: str,
    lot_id: int,
    batch_number: str,
    product_id: int,
    direction: str,
    reason: str,
    quantity: int,
    balance_after: int,
    counterparty: str,
    prescriber_name: str,
    prescriber_address: str,
    patient_name: str,
    patient_address: str,
    occurred_at: dt.datetime,
    recorded_at: dt.datetime,
    recorded_by_name: str,
    note: str,
    late_entry_reason: str,
    reverses_number: int | None,
    paired_with_number: int | None,
    prev_hash: str,
) -> dict[str, Any]:
    return {
        "establishment": establishment_code,
        "number": number,
        "location": location_code,
        "lot": lot_id,
        "batch": batch_number,
        "product": product_id,
        "direction": direction,
        "reason": reason,
        "quantity": quantity,
        "balance_after": balance_after,
        "counterparty": counterparty,
        "prescriber_name": prescriber_name,
        "prescriber_address": prescriber_address,
        "patient_name": patient_name,
        "patient_address": patient_address,
        "occurred_at": _iso(occurred_at),
        "recorded_at": _iso(recorded_at),
        "recorded_by": recorded_by_name,
        "note": note,
        "late_entry_reason": late_entry_reason,
        "reverses": reverses_number,
        "paired_with": paired_with_number,
        "prev_hash": prev_hash,
    }


def hash_payload(payload: dict[str, Any]) -> str:
    canonical = _CANONICAL.encode(payload)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# The fields of a stored line that the chain covers, in the order of the tuples read by
# ``register.selectors.chain_rows`` (``values_list``: a tuple per line, not a dict, is what a
# verification of every line of the register can afford). The PDF export reads these first and
# its display fields after them. ``occurred_iso`` and ``recorded_iso`` are the two timestamps
# already written by PostgreSQL in the form ``_iso`` gives: turning 2 timestamps per line into
# datetimes and back into text was a third of the cost of verifying a register.
CHAIN_FIELDS = (
    "number",
    "location_id",
    "location__code",
    "lot_id",
    "lot__batch_number",
    "lot__product_id",
    "direction",
    "reason",
    "quantity",
    "balance_after",
    "counterparty",
    "prescriber_name",
    "prescriber_address",
    "patient_name",
    "patient_address",
    "occurred_iso",
    "recorded_iso",
    "recorded_by_name",
    "note",
    "late_entry_reason",
    "reverses__number",
    "paired_with__number",
    "prev_hash",
    "hash",
)
_NUMBER, _LOCATION_ID, _LOT_ID, _DIRECTION, _QUANTITY, _BALANCE_AFTER, _PREV_HASH, _HASH = (
    CHAIN_FIELDS.index(name)
    for name in ("number", "location_id", "lot_id", "direction", "quantity", "balance_after", "prev_hash", "hash")
)
_CHAIN_LENGTH = len(CHAIN_FIELDS)


def _json_int(value: int | None) -> str:
    return "null" if value is None else repr(value)


def row_hash(establishment_code: str, row: Sequence[Any]) -> str:
    """The hash of a stored line read as ``CHAIN_FIELDS`` (a tuple that may go on with other
    fields): ``hash_payload(line_payload(...))``.

    The hot path of a verification (every line of the register), about twice as fast as building
    the payload: the canonical JSON is written directly, keys in sorted order, strings through
    the json module's own C escaping (what ``ensure_ascii=False`` uses), integers as json writes
    them. The bytes hashed are the same; tests/register/test_ledger.py compares both ways.
    """
    enc = _encode_string
    (
        number, _location_id, location_code, lot_id, batch_number, product_id, direction, reason, quantity,
        balance_after, counterparty, prescriber_name, prescriber_address, patient_name, patient_address,
        occurred_iso, recorded_iso, recorded_by_name, note, late_entry_reason, reverses, paired_with, prev_hash,
        _hash,
    ) = row[:_CHAIN_LENGTH]
    canonical = (
        f'{{"balance_after":{balance_after!r},"batch":{enc(batch_number)},'
        f'"counterparty":{enc(counterparty)},"direction":{enc(direction)},'
        f'"establishment":{enc(establishment_code)},"late_entry_reason":{enc(late_entry_reason)},'
        f'"location":{enc(location_code)},"lot":{lot_id!r},"note":{enc(note)},'
        f'"number":{number!r},"occurred_at":{enc(occurred_iso)},'
        f'"paired_with":{_json_int(paired_with)},'
        f'"patient_address":{enc(patient_address)},"patient_name":{enc(patient_name)},'
        f'"prescriber_address":{enc(prescriber_address)},"prescriber_name":{enc(prescriber_name)},'
        f'"prev_hash":{enc(prev_hash)},"product":{product_id!r},"quantity":{quantity!r},'
        f'"reason":{enc(reason)},"recorded_at":{enc(recorded_iso)},'
        f'"recorded_by":{enc(recorded_by_name)},'
        f'"reverses":{_json_int(reverses)}}}'
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class VerificationResult:
    ok: bool
    lines: int
    head_hash: str
    first_broken: int | None
    problem: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "lines": self.lines,
            "head_hash": self.head_hash,
            "first_broken": self.first_broken,
            "problem": self.problem,
        }


class ChainVerifier:
    """The chain rule, line by line, for whoever reads the register in order-number order.

    ``register_verify`` feeds it every line; the PDF export feeds it the lines it draws and the
    ones around the period, so a register is read once. ``feed`` checks one line: its number
    follows the previous one with no gap, its ``prev_hash`` is the previous line's hash, its
    stored hash is the recomputed one, its balance is the running sum of the ledger for its
    (location, lot). The first problem is kept; after it the chain proves nothing more, so
    further lines are ignored. ``finish`` then compares the register head and the cached stock.
    """

    def __init__(self, establishment_code: str) -> None:
        self.establishment_code = establishment_code
        self.lines = 0
        self.prev_hash = GENESIS_HASH
        self.balances: dict[tuple[int, int], int] = {}
        self.first_broken: int | None = None
        self.problem = ""

    @property
    def broken(self) -> bool:
        return bool(self.problem)

    def feed(self, row: Sequence[Any]) -> str | None:
        """Check the next line (a tuple read as ``CHAIN_FIELDS``); the problem found, if any."""
        if self.problem:
            return None
        number = row[_NUMBER]
        expected = self.lines + 1
        problem = ""
        if number != expected:
            problem = f"order number {expected} is missing (found {number} next)"
            number = expected
        elif row[_PREV_HASH] != self.prev_hash:
            problem = "previous-hash link broken"
        else:
            key = (row[_LOCATION_ID], row[_LOT_ID])
            quantity = row[_QUANTITY]
            running = self.balances.get(key, 0) + (quantity if row[_DIRECTION] == "entry" else -quantity)
            self.balances[key] = running
            if row_hash(self.establishment_code, row) != row[_HASH]:
                problem = "content does not match its hash"
            elif running != row[_BALANCE_AFTER] or running < 0:
                problem = f"balance {row[_BALANCE_AFTER]} differs from the ledger's {running}"
        if problem:
            self.first_broken = number
            self.problem = f"line {number}: {problem}"
            return self.problem
        self.lines = number
        self.prev_hash = row[_HASH]
        return None

    def finish(
        self,
        *,
        head: tuple[int, str] | None,
        cached: Mapping[tuple[int, int], int] | None,
    ) -> VerificationResult:
        """The verdict, given the register head (last number, last hash) the lines were read up
        to and the cached stock per (location, lot) at that same head (None: not compared)."""
        if self.problem:
            return VerificationResult(False, self.lines, self.prev_hash, self.first_broken, self.problem)
        lines, prev_hash = self.lines, self.prev_hash
        if head is not None and (head[0] != lines or head[1] != prev_hash):
            return VerificationResult(
                False, lines, prev_hash, lines + 1 if head[0] > lines else lines,
                "the register head does not match the last line (a line is missing at the end)",
            )
        if cached is not None:
            balances = self.balances
            for key in sorted(set(cached) | set(balances)):
                if cached.get(key, 0) != balances.get(key, 0):
                    return VerificationResult(
                        False, lines, prev_hash, None,
                        f"cached stock of lot {key[1]} at location {key[0]} is {cached.get(key, 0)}, "
                        f"the ledger says {balances.get(key, 0)}",
                    )
        return VerificationResult(True, lines, prev_hash, None)


# The three values of a new line that only exist under the register lock: its balance, its order
# number and the previous line's hash. ``line_hash_parts`` writes the rest of the canonical JSON
# (the same bytes as ``hash_payload(line_payload(...))``, keys in sorted order) around them, so the
# database function ``register_append`` (register/migrations/0005_register_append.py) can hash
# the line inside the locked section in one round trip:
#     '{"balance_after":' || balance || parts[0] || number || parts[1] || prev_hash || parts[2]
# ``hash_from_parts`` is the same concatenation in Python; tests compare all three ways.
HASH_PREFIX = '{"balance_after":'


def line_hash_parts(
    *,
    establishment_code: str,
    location_code: str,
    lot_id: int,
    batch_number: str,
    product_id: int,
    direction: str,
    reason: str,
    quantity: int,
    counterparty: str,
    prescriber_name: str,
    prescriber_address: str,
    patient_name: str,
    patient_address: str,
    occurred_at: dt.datetime,
    recorded_at: dt.datetime,
    recorded_by_name: str,
    note: str,
    late_entry_reason: str,
    reverses_number: int | None,
    paired_with_number: int | None,
) -> tuple[str, str, str]:
    enc = _encode_string
    return (
        f',"batch":{enc(batch_number)},"counterparty":{enc(counterparty)},"direction":{enc(direction)},'
        f'"establishment":{enc(establishment_code)},"late_entry_reason":{enc(late_entry_reason)},'
        f'"location":{enc(location_code)},"lot":{lot_id!r},"note":{enc(note)},"number":',
        f',"occurred_at":{enc(_iso(occurred_at))},"paired_with":{_json_int(paired_with_number)},'
        f'"patient_address":{enc(patient_address)},"patient_name":{enc(patient_name)},'
        f'"prescriber_address":{enc(prescriber_address)},"prescriber_name":{enc(prescriber_name)},"prev_hash":"',
        f'","product":{product_id!r},"quantity":{quantity!r},"reason":{enc(reason)},'
        f'"recorded_at":{enc(_iso(recorded_at))},"recorded_by":{enc(recorded_by_name)},'
        f'"reverses":{_json_int(reverses_number)}}}',
    )


def hash_from_parts(parts: tuple[str, str, str], *, balance_after: int, number: int, prev_hash: str) -> str:
    canonical = f"{HASH_PREFIX}{balance_after!r}{parts[0]}{number!r}{parts[1]}{prev_hash}{parts[2]}"
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
