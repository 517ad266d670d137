"""Monthly closing of the register (R.5132-36 "monthly balance"): a service and its selectors.

A closing freezes, per product, opening + entries - exits = closing for one month, with the
register head at that moment. The figures are recomputed from the ledger, never typed in; the
rows are append-only (trigger) and unique per establishment, product and month.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from audit.services import audit_record
from config.errors import DomainError
from register.models import Establishment, MonthlyClosing, Movement, Product, RegisterHead
from register.selectors import establishments_for


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def local_midnight(day: dt.date) -> dt.datetime:
    """The start of ``day`` in the register's time zone: months and days of the register are local."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def ledger_month_figures(establishment: Establishment, month: dt.date) -> dict[int, tuple[int, int, int]]:
    """Per product, (opening, entries, exits) of a month, from the ledger (months in local time).

    Every product with a line before the month's end is listed, even with no movement in it.
    """
    start, end = local_midnight(month), local_midnight(next_month(month))
    entry, exit_ = Q(direction=Movement.Direction.ENTRY), Q(direction=Movement.Direction.EXIT)
    rows = (
        Movement.objects.filter(establishment=establishment, occurred_at__lt=end)
        .order_by()
        .values("lot__product_id")
        .annotate(
            before_in=Sum("quantity", filter=entry & Q(occurred_at__lt=start), default=0),
            before_out=Sum("quantity", filter=exit_ & Q(occurred_at__lt=start), default=0),
            entries=Sum("quantity", filter=entry & Q(occurred_at__gte=start), default=0),
            exits=Sum("quantity", filter=exit_ & Q(occurred_at__gte=start), default=0),
        )
    )
    return {
        row["lot__product_id"]: (row["before_in"] - row["before_out"], row["entries"], row["exits"]) for row in rows
    }


def month_close(*, actor: Any, establishment: Establishment, month: dt.date, actor_name: str = "") -> list[MonthlyClosing]:
    """Freeze a past month's balance per product; refuse anything that would not add up.

    Refused: the current or a future month (``month_not_over``), a month already closed
    (``month_already_closed``), a month before a closed one (``closing_out_of_order``), a gap
    after earlier closings (``previous_month_open``), and an opening that differs from the
    previous month's frozen closing (``closing_mismatch``: a line dated inside a closed month
    was recorded afterwards; it is reported, never silently absorbed).
    """
    month = month_start(month)
    if month >= month_start(timezone.localdate()):
        raise DomainError("month_not_over", f"{month:%Y-%m} is not over yet: only a past month can be closed.")
    name = actor.get_username() if getattr(actor, "is_authenticated", False) else actor_name
    with transaction.atomic():
        # The register lock, as every append takes it: while we hold it no line can be added, so
        # the figures, the head number and the head hash all describe the same ledger. It also
        # serialises two closings of the same month (the unique constraint is the guarantee).
        head = RegisterHead.objects.select_for_update().get(establishment=establishment)
        closed = MonthlyClosing.objects.filter(establishment=establishment)
        if closed.filter(month=month).exists():
            raise DomainError("month_already_closed", f"{month:%Y-%m} is already closed for {establishment.code}.")
        if closed.filter(month__gt=month).exists():
            raise DomainError(
                "closing_out_of_order", f"A month after {month:%Y-%m} is already closed: months close in order."
            )
        previous = {row.product_id: row for row in closed.filter(month=previous_month(month))}
        if not previous and closed.exists():
            raise DomainError(
                "previous_month_open", f"{previous_month(month):%Y-%m} must be closed before {month:%Y-%m}."
            )
        figures = ledger_month_figures(establishment, month)
        for product_id in previous:
            figures.setdefault(product_id, (0, 0, 0))
        mismatches = [
            {
                "product": product_id,
                "previous_closing": row.closing,
                "ledger_opening": figures[product_id][0],
            }
            for product_id, row in previous.items()
            if figures[product_id][0] != row.closing
        ]
        if mismatches:
            names = dict(Product.objects.filter(pk__in=[m["product"] for m in mismatches]).values_list("pk", "name"))
            listing = "; ".join(
                f"{names.get(m['product'])}: closed {m['previous_closing']}, ledger now {m['ledger_opening']}"
                for m in mismatches
            )
            raise DomainError(
                "closing_mismatch",
                f"The opening of {month:%Y-%m} differs from the frozen closing of {previous_month(month):%Y-%m} "
                f"({listing}): a line was recorded in a closed month. Nothing was closed.",
                extra={"mismatches": mismatches},
            )
        if not figures:
            raise DomainError("nothing_to_close", f"{establishment.code} has no register line up to {month:%Y-%m}.")
        now = timezone.now()
        rows = MonthlyClosing.objects.bulk_create(
            MonthlyClosing(
                establishment=establishment,
                product_id=product_id,
                month=month,
                opening=opening,
                entries=entries,
                exits=exits,
                closing=opening + entries - exits,
                head_number=head.last_number,
                head_hash=head.last_hash,
                closed_at=now,
                closed_by=actor if getattr(actor, "is_authenticated", False) else None,
                closed_by_name=name[:150],
            )
            for product_id, (opening, entries, exits) in sorted(figures.items())
        )
        audit_record(
            action="register.month_closed",
            actor=actor,
            actor_username=name,
            establishment=establishment,
            data={
                "month": f"{month:%Y-%m}",
                "head_number": head.last_number,
                "head_hash": head.last_hash,
                "products": {str(row.product_id): [row.opening, row.entries, row.exits, row.closing] for row in rows},
            },
        )
    return rows


def closings_of(
    establishment: Establishment,
    *,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    product: Product | int | None = None,
) -> QuerySet[MonthlyClosing]:
    """The frozen closings of months that overlap the period."""
    queryset = MonthlyClosing.objects.filter(establishment=establishment).select_related("product")
    if date_from is not None:
        queryset = queryset.filter(month__gte=month_start(date_from))
    if date_to is not None:
        queryset = queryset.filter(month__lte=date_to)
    if product is not None:
        queryset = queryset.filter(product=product)
    return queryset.order_by("month", "product__name")


def closings_for(user: Any) -> QuerySet[MonthlyClosing]:
    return (
        MonthlyClosing.objects.filter(establishment__in=establishments_for(user))
        .select_related("product", "establishment")
        .order_by("establishment__code", "-month", "product__name")
    )
