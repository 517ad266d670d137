"""Small inline-SVG charts drawn on the server: no JavaScript library, nothing to download."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

MAX_POINTS = 60


@dataclass(frozen=True)
class Sparkline:
    """A step line of a lot's balance, ready for ``<svg><path d=...>``."""

    path: str
    area: str
    width: int
    height: int
    last: int
    peak: int
    first_at: dt.datetime | None
    last_at: dt.datetime | None
    points: int


def lot_balance_series(lines: Iterable[tuple[int, int, int, dt.datetime]]) -> dict[int, list[tuple[dt.datetime, int]]]:
    """Each lot's total balance (all locations) after each of its register lines.

    ``lines`` are ``(lot_id, location_id, balance_after, occurred_at)`` in order-number order;
    ``balance_after`` is per (location, lot), so the lot's total is the sum of the last balance
    seen at each location.
    """
    per_location: dict[int, dict[int, int]] = {}
    series: dict[int, list[tuple[dt.datetime, int]]] = {}
    for lot_id, location_id, balance_after, occurred_at in lines:
        balances = per_location.setdefault(lot_id, {})
        balances[location_id] = balance_after
        series.setdefault(lot_id, []).append((occurred_at, sum(balances.values())))
    return series


def sparkline(values: list[tuple[dt.datetime, int]], *, width: int = 160, height: int = 36) -> Sparkline:
    """A step chart: a short lead-in at zero (before the lot's first line), then one equal-width
    step per register line at the balance that line left."""
    # A long history would draw steps thinner than a pixel: keep the latest lines, and start the
    # lead-in at the balance the earlier ones left.
    start = values[-MAX_POINTS - 1][1] if len(values) > MAX_POINTS else 0
    values = values[-MAX_POINTS:]
    totals = [total for _, total in values]
    peak = max([start, *totals]) or 1
    pad, lead = 2, 10
    step = (width - 2 * pad - lead) / max(len(totals), 1)

    def y(value: int) -> float:
        return round(height - pad - (height - 2 * pad) * value / peak, 1)

    commands = [f"M{pad},{y(start)} H{pad + lead}"]
    for index, value in enumerate(totals):
        commands.append(f"V{y(value)} H{round(pad + lead + step * (index + 1), 1)}")
    path = " ".join(commands)
    area = f"{path} V{height - pad} H{pad} Z"
    return Sparkline(
        path=path,
        area=area,
        width=width,
        height=height,
        last=totals[-1] if totals else 0,
        peak=max(totals, default=0),
        first_at=values[0][0] if values else None,
        last_at=values[-1][0] if values else None,
        points=len(values),
    )
