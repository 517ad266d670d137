"""Small inline-SVG charts drawn on the server: no JavaScript library, nothing to download."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

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


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: dt.date
    mg: Decimal
    over: bool


@dataclass(frozen=True)
class ExposureChart:
    """Racemic-equivalent mg per day as bars, with the high-daily-dose line (ANSM 2017)."""

    bars: list[Bar]
    width: int
    height: int
    plot_left: int
    plot_bottom: int
    limit: Decimal
    limit_y: float
    top: Decimal
    first: dt.date | None
    last: dt.date | None
    today_x: float | None
    peak: Decimal
    days_over: int


def exposure_chart(
    daily_mg: dict[dt.date, Decimal],
    *,
    limit: Decimal,
    today: dt.date,
    width: int = 720,
    height: int = 200,
    min_days: int = 14,
) -> ExposureChart:
    """One bar per day from the first to the last exposed day (at least ``min_days``, today
    included), so a gap in treatment shows as a gap; bars above ``limit`` are flagged."""
    left, right, top_pad, bottom = 28, 8, 20, 24
    days = sorted(daily_mg)
    first = min([*days, today]) if days else today
    last = max([*days, today]) if days else today
    if (last - first).days + 1 < min_days:
        last = first + dt.timedelta(days=min_days - 1)
    count = (last - first).days + 1
    peak = max(daily_mg.values(), default=Decimal(0))
    # The scale always shows the limit line with some headroom, even for a patient far below it.
    top = max(peak, limit) * Decimal("1.15")
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    step = plot_w / count

    def y(mg: Decimal) -> float:
        return round(top_pad + plot_h - float(mg / top) * plot_h, 1)

    bars = []
    for day in days:
        mg = daily_mg[day]
        if mg <= 0:
            continue
        x = round(left + step * (day - first).days + step * 0.1, 1)
        bars.append(Bar(x=x, y=y(mg), width=round(step * 0.8, 1), height=round(top_pad + plot_h - y(mg), 1),
                        day=day, mg=mg, over=mg > limit))
    today_x = round(left + step * ((today - first).days + 0.5), 1) if first <= today <= last else None
    return ExposureChart(
        bars=bars, width=width, height=height, plot_left=left, plot_bottom=top_pad + plot_h, limit=limit,
        limit_y=y(limit), top=top, first=first, last=last, today_x=today_x, peak=peak,
        days_over=sum(1 for bar in bars if bar.over),
    )
