"""What the register exports read: the lines of a period, in chunks, and the monthly summary.

Both the PDF and the CSV read the same rows from ``register.selectors.movements_of`` with
``.iterator(chunk_size=...)`` (the CSV as dicts, the PDF as tuples, which its one pass over the
whole register can better afford): PostgreSQL hands them over through a server-side cursor, so
memory stays flat whatever the length of the period.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db.models import BooleanField, ExpressionWrapper, Max, Min, Q, Sum, Value
from django.db.models.functions import TruncMonth
from django.utils import timezone

from register.chain import CHAIN_FIELDS, GENESIS_HASH
from register.closing import local_midnight, month_start, next_month
from register.models import Establishment, Movement, Product, RegisterHead
from register.selectors import chain_annotations, movements_of

CHUNK_SIZE = 2000

LINE_FIELDS = (
    "number",
    "occurred_at",
    "recorded_at",
    "direction",
    "reason",
    "quantity",
    "balance_after",
    "counterparty",
    "prescriber_name",
    "prescriber_address",
    "patient_name",
    "patient_address",
    "recorded_by_name",
    "note",
    "late_entry_reason",
    "lot__batch_number",
    "lot__product__name",
    "location__code",
    "location__name",
    "reverses__number",
    "reversed_by__number",
    "paired_with__number",
    "prev_hash",
    "hash",
    # Read for the chain verification done while drawing (register.chain.CHAIN_FIELDS).
    "location_id",
    "lot_id",
    "lot__product_id",
)

# The PDF's rows, as tuples: the fields the chain covers (verified while drawing), then those only
# displayed, then whether the line belongs to the period. The timestamps come as text written by
# PostgreSQL (what the chain hashes), parsed only for display (``datetime.fromisoformat``, in C),
# never through the driver's loader.
PDF_FIELDS = (*CHAIN_FIELDS, "lot__product__name", "location__name", "reversed_by__number", "in_period")

REASON_LABELS: dict[str, str] = {str(value): str(label) for value, label in Movement.Reason.choices}
DIRECTION_LABELS: dict[str, str] = {str(value): str(label) for value, label in Movement.Direction.choices}

# Control characters (C0, DEL, C1) and the invisible format characters that could hide or
# reorder text (bidi overrides, zero-width joiners) become a plain space: whatever a user typed,
# the register prints it as inert text. Newlines are kept: addresses are written on lines.
_INVISIBLE = {
    code: " "
    for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]
    if chr(code) != "\n"
}
_INVISIBLE.update(
    {code: " " for code in range(0x2000, 0x2070) if unicodedata.category(chr(code)) == "Cf"}
)
_INVISIBLE.update({0xFEFF: " ", 0xFFF9: " ", 0xFFFA: " ", 0xFFFB: " "})
_INVISIBLE[0x0D] = "\n"


_NEEDS_CLEANING = re.compile("[" + "".join(re.escape(chr(code)) for code in _INVISIBLE) + "]")


def clean_text(value: Any) -> str:
    """Any stored text, made safe to print: inert, no control characters, no trailing blanks."""
    if not value:
        return ""
    text = str(value)
    if _NEEDS_CLEANING.search(text):  # rare: a C-speed scan spares the translation of clean text
        text = text.replace("\r\n", "\n").translate(_INVISIBLE)
    return text.strip()


@dataclass(frozen=True)
class ExportScope:
    """What an export covers: one establishment, a period, maybe one product, up to a head."""

    establishment: Establishment
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    product: Product | None = None
    # The register head when the export started: lines appended meanwhile are left out, so the
    # lines, the summary and the page hashes describe one and the same state of the register.
    upto_number: int = 0
    upto_hash: str = ""
    generated_at: dt.datetime = field(default_factory=timezone.now)

    @classmethod
    def snapshot(
        cls,
        establishment: Establishment,
        *,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
        product: Product | None = None,
    ) -> ExportScope:
        head = RegisterHead.objects.filter(establishment=establishment).values_list("last_number", "last_hash").first()
        number, digest = head or (0, GENESIS_HASH)
        return cls(establishment, date_from, date_to, product, upto_number=int(number), upto_hash=str(digest))

    def lines(self) -> Any:
        return movements_of(
            self.establishment,
            date_from=self.date_from,
            date_to=self.date_to,
            product=self.product,
            upto_number=self.upto_number,
        )

    def count(self) -> int:
        return int(self.lines().count())

    def iter_rows(self) -> Iterator[dict[str, Any]]:
        return self.lines().values(*LINE_FIELDS).iterator(chunk_size=CHUNK_SIZE)

    @property
    def filtered(self) -> bool:
        return self.date_from is not None or self.date_to is not None or self.product is not None

    def number_bounds(self) -> tuple[int, int] | None:
        """The first and last order numbers of the period's lines (None: no line)."""
        if not self.filtered:
            return (1, self.upto_number) if self.upto_number else None
        bounds = self.lines().order_by().aggregate(first=Min("number"), last=Max("number"))
        return None if bounds["first"] is None else (int(bounds["first"]), int(bounds["last"]))

    def iter_span_rows(self, first: int, last: int) -> Iterator[tuple[Any, ...]]:
        """Every register line numbered ``first``..``last``, as a tuple of ``PDF_FIELDS``, the last
        one, ``in_period``, saying whether the line belongs to the export. A backdated line or
        another product's line may sit between two lines of the period; the chain is verified
        over all of them in one pass."""
        span = movements_of(self.establishment, upto_number=last).filter(number__gte=first)
        in_period: Any = Value(True)
        if self.filtered:
            condition = Q()
            if self.date_from is not None:
                condition &= Q(occurred_at__date__gte=self.date_from)
            if self.date_to is not None:
                condition &= Q(occurred_at__date__lte=self.date_to)
            if self.product is not None:
                condition &= Q(lot__product=self.product)
            in_period = ExpressionWrapper(condition, output_field=BooleanField())
        return (
            span.annotate(in_period=in_period, **chain_annotations())
            .values_list(*PDF_FIELDS)
            .iterator(chunk_size=CHUNK_SIZE)
        )

    def period_label(self) -> str:
        start = f"du {self.date_from:%d/%m/%Y}" if self.date_from else "depuis la première ligne"
        end = f"au {self.date_to:%d/%m/%Y}" if self.date_to else f"au {timezone.localtime(self.generated_at):%d/%m/%Y}"
        return f"{start} {end}"

    def period_data(self) -> dict[str, Any]:
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "product": self.product.pk if self.product else None,
            "upto_number": self.upto_number,
        }


def local(value: dt.datetime, tz: dt.tzinfo | None = None) -> dt.datetime:
    """In the register's time zone (settings.TIME_ZONE): a date on a register page is local."""
    return value.astimezone(tz or timezone.get_current_timezone())


@dataclass(frozen=True)
class SummaryRow:
    """One product's monthly balance (R.5132-36): opening + entries - exits = closing."""

    product: str
    product_id: int
    month: dt.date
    opening: int
    entries: int
    exits: int

    @property
    def closing(self) -> int:
        return self.opening + self.entries - self.exits


def _signed_sum() -> Any:
    return Sum("quantity", filter=Q(direction=Movement.Direction.ENTRY), default=0) - Sum(
        "quantity", filter=Q(direction=Movement.Direction.EXIT), default=0
    )


def monthly_summary(scope: ExportScope) -> list[SummaryRow]:
    """Per product and month of the period: opening, entries, exits (closing follows).

    Computed by PostgreSQL (two aggregate queries), months in local time. The months run from
    the period's first line to its last, so an open-ended period costs nothing extra.
    """
    lines = scope.lines().order_by()
    bounds = lines.aggregate(first=Min("occurred_at"), last=Max("occurred_at"))
    if bounds["first"] is None:
        return []
    first_month = month_start(timezone.localdate(bounds["first"]))
    last_month = month_start(timezone.localdate(bounds["last"]))
    before = Movement.objects.filter(establishment=scope.establishment, number__lte=scope.upto_number)
    if scope.date_from is not None and scope.date_from > first_month:
        # The period starts inside the month: the opening is the balance on its first day.
        before = before.filter(occurred_at__date__lt=scope.date_from)
    else:
        before = before.filter(occurred_at__lt=local_midnight(first_month))
    if scope.product is not None:
        before = before.filter(lot__product=scope.product)
    openings: dict[int, int] = {
        row["lot__product_id"]: row["balance"]
        for row in before.order_by().values("lot__product_id").annotate(balance=_signed_sum())
    }
    moves: dict[tuple[int, dt.date], tuple[int, int]] = {}
    for row in (
        lines.annotate(month=TruncMonth("occurred_at"))
        .values("lot__product_id", "month")
        .annotate(
            entries=Sum("quantity", filter=Q(direction=Movement.Direction.ENTRY), default=0),
            exits=Sum("quantity", filter=Q(direction=Movement.Direction.EXIT), default=0),
        )
    ):
        month = row["month"]
        month = timezone.localtime(month).date() if isinstance(month, dt.datetime) else month
        moves[(row["lot__product_id"], month)] = (row["entries"], row["exits"])
    product_ids = set(openings) | {product_id for product_id, _ in moves}
    names = dict(Product.objects.filter(pk__in=product_ids).values_list("pk", "name"))
    rows: list[SummaryRow] = []
    for product_id in sorted(product_ids, key=lambda pk: names.get(pk, "")):
        balance = openings.get(product_id, 0)
        month = first_month
        while month <= last_month:
            entries, exits = moves.get((product_id, month), (0, 0))
            if balance or entries or exits:
                rows.append(SummaryRow(names.get(product_id, str(product_id)), product_id, month, balance, entries, exits))
            balance += entries - exits
            month = next_month(month)
    return rows
