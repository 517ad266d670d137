"""Reads of the register, always scoped to the caller's establishments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from register.chain import GENESIS_HASH, hash_payload, line_payload
from register.models import Establishment, Location, Lot, Movement, Product, RegisterHead, StockBalance


def establishments_for(user: Any) -> QuerySet[Establishment]:
    if not getattr(user, "is_authenticated", False):
        return Establishment.objects.none()
    return Establishment.objects.filter(members=user)


def products_list() -> QuerySet[Product]:
    return Product.objects.select_related("substance").prefetch_related("substance__classifications")


def lots_for(user: Any) -> QuerySet[Lot]:
    return Lot.objects.filter(establishment__in=establishments_for(user)).select_related("product", "establishment")


def locations_for(user: Any) -> QuerySet[Location]:
    return Location.objects.filter(establishment__in=establishments_for(user))


def stock_for(user: Any) -> QuerySet[StockBalance]:
    return (
        StockBalance.objects.filter(location__establishment__in=establishments_for(user))
        .select_related("lot__product", "location")
        .order_by("lot__product__name", "lot__expires_on", "location__code")
    )


def movements_for(user: Any) -> QuerySet[Movement]:
    return Movement.objects.filter(establishment__in=establishments_for(user)).select_related(
        "lot__product", "location", "establishment", "reverses"
    )


def movements_of(
    establishment: Establishment,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    product: Product | int | None = None,
    upto_number: int | None = None,
) -> QuerySet[Movement]:
    """An establishment's register lines in order-number order, for lists and exports.

    ``upto_number`` stops at a register head read earlier: an export then describes one state
    of the register even while lines are being appended.
    """
    queryset = Movement.objects.filter(establishment=establishment)
    if upto_number is not None:
        queryset = queryset.filter(number__lte=upto_number)
    if date_from is not None:
        queryset = queryset.filter(occurred_at__date__gte=date_from)
    if date_to is not None:
        queryset = queryset.filter(occurred_at__date__lte=date_to)
    if product is not None:
        queryset = queryset.filter(lot__product=product)
    return queryset.order_by("number")


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


_VERIFY_FIELDS = (
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
    "occurred_at",
    "recorded_at",
    "recorded_by_name",
    "note",
    "late_entry_reason",
    "reverses__number",
    "paired_with__number",
    "prev_hash",
    "hash",
)


def _iter_lines(establishment: Establishment) -> Iterator[dict[str, Any]]:
    # A server-side cursor in chunks: memory stays flat whatever the register's length.
    return (
        Movement.objects.filter(establishment=establishment)
        .order_by("number")
        .values(*_VERIFY_FIELDS)
        .iterator(chunk_size=5000)
    )


def register_verify(establishment: Establishment) -> VerificationResult:
    """Recompute the chain, the order numbers and the running balances; name the first broken line.

    Checks, line by line: numbers 1..N with no gap, ``prev_hash`` equals the previous line's hash,
    the stored hash equals the recomputed one, the balance equals the running sum of the ledger.
    Then the cached balances must equal the ledger's, and the head must point at the last line.
    """
    expected_number = 1
    prev_hash = GENESIS_HASH
    balances: dict[tuple[int, int], int] = {}
    lines = 0
    for row in _iter_lines(establishment):
        number = row["number"]
        problem = ""
        if number != expected_number:
            problem = f"order number {expected_number} is missing (found {number} next)"
            number = expected_number
        elif row["prev_hash"] != prev_hash:
            problem = "previous-hash link broken"
        else:
            payload = line_payload(
                establishment_code=establishment.code,
                number=number,
                location_code=row["location__code"],
                lot_id=row["lot_id"],
                batch_number=row["lot__batch_number"],
                product_id=row["lot__product_id"],
                direction=row["direction"],
                reason=row["reason"],
                quantity=row["quantity"],
                balance_after=row["balance_after"],
                counterparty=row["counterparty"],
                prescriber_name=row["prescriber_name"],
                prescriber_address=row["prescriber_address"],
                patient_name=row["patient_name"],
                patient_address=row["patient_address"],
                occurred_at=row["occurred_at"],
                recorded_at=row["recorded_at"],
                recorded_by_name=row["recorded_by_name"],
                note=row["note"],
                late_entry_reason=row["late_entry_reason"],
                reverses_number=row["reverses__number"],
                paired_with_number=row["paired_with__number"],
                prev_hash=row["prev_hash"],
            )
            key = (row["location_id"], row["lot_id"])
            signed = row["quantity"] if row["direction"] == Movement.Direction.ENTRY else -row["quantity"]
            running = balances.get(key, 0) + signed
            balances[key] = running
            if hash_payload(payload) != row["hash"]:
                problem = "content does not match its hash"
            elif running != row["balance_after"] or running < 0:
                problem = f"balance {row['balance_after']} differs from the ledger's {running}"
        if problem:
            return VerificationResult(False, lines, prev_hash, number, f"line {number}: {problem}")
        lines += 1
        prev_hash = row["hash"]
        expected_number += 1

    head = RegisterHead.objects.filter(establishment=establishment).first()
    if head is not None and (head.last_number != lines or head.last_hash != prev_hash):
        return VerificationResult(
            False, lines, prev_hash, lines + 1 if head.last_number > lines else lines,
            "the register head does not match the last line (a line is missing at the end)",
        )
    cached = {
        (location_id, lot_id): on_hand
        for location_id, lot_id, on_hand in StockBalance.objects.filter(
            location__establishment=establishment
        ).values_list("location_id", "lot_id", "on_hand")
    }
    for key in set(cached) | set(balances):
        if cached.get(key, 0) != balances.get(key, 0):
            return VerificationResult(
                False, lines, prev_hash, None,
                f"cached stock of lot {key[1]} at location {key[0]} is {cached.get(key, 0)}, "
                f"the ledger says {balances.get(key, 0)}",
            )
    return VerificationResult(True, lines, prev_hash, None)
