"""Reads of the register, always scoped to the caller's establishments."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterator
from typing import Any

from django.db import connection, transaction
from django.db.models import CharField, F, Func, Max, QuerySet

from register.chain import CHAIN_FIELDS, ChainVerifier, VerificationResult
from register.models import Establishment, Location, Lot, Movement, Product, RegisterHead, StockBalance


def establishments_for(user: Any) -> QuerySet[Establishment]:
    if not getattr(user, "is_authenticated", False):
        return Establishment.objects.none()
    return Establishment.objects.filter(members=user)


def products_list() -> QuerySet[Product]:
    return Product.objects.select_related("substance").prefetch_related("substance__classifications")


def lots_for(user: Any) -> QuerySet[Lot]:
    return Lot.objects.filter(establishment__in=establishments_for(user)).select_related("product", "establishment")


def lot_to_move(user: Any, pk: int) -> Lot | None:
    """The caller's lot ``pk`` with its product and establishment loaded, or None (not theirs).

    ``lots_for(user).select_related(...).get(pk=...)`` in one hand-written statement: the same
    scoping (the lot's establishment counts the user among its members), but without building
    and compiling a queryset on every append, which was a fifth of an append's CPU
    (bench/append.py). The columns come from the models, so a new field is read too (raw, as
    no field of these models converts database values; tests/register/test_ledger.py compares
    what it loads with the ORM).
    """
    if not getattr(user, "is_authenticated", False):
        return None
    with connection.cursor() as cursor:
        cursor.execute(_lot_to_move_sql(), [pk, user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    values = iter(row)

    def load(model: type[Any]) -> Any:
        names = [field.attname for field in model._meta.concrete_fields]
        return model.from_db(connection.alias, names, [next(values) for _ in names])

    lot: Lot = load(Lot)
    lot.product = load(Product)
    lot.establishment = load(Establishment)
    return lot


@functools.cache
def _lot_to_move_sql() -> str:
    columns = ", ".join(
        f'{alias}."{field.column}"'
        for alias, model in (("l", Lot), ("p", Product), ("e", Establishment))
        for field in model._meta.concrete_fields
    )
    members = Establishment.members.through._meta.db_table
    return (
        f"SELECT {columns} FROM {Lot._meta.db_table} l "
        f"JOIN {Product._meta.db_table} p ON p.id = l.product_id "
        f"JOIN {Establishment._meta.db_table} e ON e.id = l.establishment_id "
        f"WHERE l.id = %s AND EXISTS (SELECT 1 FROM {members} m WHERE m.establishment_id = l.establishment_id AND m.user_id = %s)"
    )


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


def _utc_iso(field: str) -> Func:
    # What ``register.chain._iso`` writes (``2024-01-01T08:07:00.000000+00:00``), by PostgreSQL.
    return Func(
        F(field),
        template="to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')",
        output_field=CharField(),
    )


def chain_annotations() -> dict[str, Func]:
    """The annotations ``CHAIN_FIELDS`` reads besides model fields (timestamps as hashed)."""
    return {"occurred_iso": _utc_iso("occurred_at"), "recorded_iso": _utc_iso("recorded_at")}


def chain_rows(
    establishment: Establishment, *, first: int = 1, last: int | None = None
) -> Iterator[tuple[Any, ...]]:
    """Lines ``first``..``last`` (all by default) as tuples of ``CHAIN_FIELDS``, in order.

    A server-side cursor in chunks: memory stays flat whatever the register's length.
    """
    queryset = Movement.objects.filter(establishment=establishment, number__gte=first)
    if last is not None:
        queryset = queryset.filter(number__lte=last)
    return queryset.order_by("number").annotate(**chain_annotations()).values_list(*CHAIN_FIELDS).iterator(chunk_size=5000)


def cached_balances(establishment: Establishment) -> dict[tuple[int, int], int]:
    """The stock cache, (location id, lot id) -> units on hand."""
    return {
        (location_id, lot_id): on_hand
        for location_id, lot_id, on_hand in StockBalance.objects.filter(
            location__establishment=establishment
        ).values_list("location_id", "lot_id", "on_hand")
    }


def register_state(establishment: Establishment) -> tuple[tuple[int, str] | None, dict[tuple[int, int], int]]:
    """The register head (last number, last hash) and the stock cache, as one state.

    Appends update the head and the cache in one transaction, but two separate reads can fall
    on either side of a commit. Holding the head row FOR SHARE while the cache is read makes
    writers wait those few milliseconds: both reads then describe the ledger up to that head.
    """
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"SELECT last_number, last_hash FROM {RegisterHead._meta.db_table} WHERE establishment_id = %s FOR SHARE",
            [establishment.pk],
        )
        row = cursor.fetchone()
        cached = cached_balances(establishment)
    return (row[0], row[1]) if row is not None else None, cached


def register_verify(establishment: Establishment) -> VerificationResult:
    """Recompute the chain, the order numbers and the running balances; name the first broken line.

    Checks, line by line (``register.chain.ChainVerifier``): numbers 1..N with no gap,
    ``prev_hash`` equals the previous line's hash, the stored hash equals the recomputed one, the
    balance equals the running sum of the ledger. Then the cached balances must equal the
    ledger's, and the head must point at the last line. N is the head read with the cache
    (``register_state``), so lines appended while the verification runs are not mistaken for a
    broken end of the register; they are checked by the next verification.
    """
    head, cached = register_state(establishment)
    verifier = ChainVerifier(establishment.code)
    for row in chain_rows(establishment, last=head[0] if head is not None else None):
        if verifier.feed(row):
            return verifier.finish(head=None, cached=None)
    result = verifier.finish(head=head, cached=cached)
    if result.ok:
        # A line beyond the head was written without the register lock (by hand, as superuser).
        # Read the last number first, then the head: a line committed in between has moved the
        # head with it, so only a line the head never counted can be ahead of it.
        last_line = Movement.objects.filter(establishment=establishment).aggregate(last=Max("number"))["last"] or 0
        head_now = RegisterHead.objects.filter(establishment=establishment).values_list("last_number", flat=True).first()
        if last_line > (head_now or 0):
            stray = (head_now or 0) + 1
            return VerificationResult(
                False, result.lines, result.head_hash, stray,
                f"line {stray}: beyond the register head (written without the register)",
            )
    return result
