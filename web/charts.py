"""Small inline-SVG charts drawn on the server: no JavaScript library, nothing to download."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass


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
    """A step chart that starts at zero (before the lot's first line) and spaces lines evenly."""
    totals = [0] + [total for _, total in values]
    peak = max(totals) or 1
    pad = 2
    step = (width - 2 * pad) / max(len(totals) - 1, 1)

    def y(value: int) -> float:
        return round(height - pad - (height - 2 * pad) * value / peak, 1)

    commands = [f"M{pad},{y(totals[0])}"]
    for index, value in enumerate(totals[1:], start=1):
        x = round(pad + step * index, 1)
        commands.append(f"H{x}V{y(value)}")
    path = " ".join(commands)
    area = f"{path} V{height - pad} H{pad} Z"
    return Sparkline(
        path=path,
        area=area,
        width=width,
        height=height,
        last=totals[-1],
        peak=max(totals),
        first_at=values[0][0] if values else None,
        last_at=values[-1][0] if values else None,
        points=len(values),
    )
