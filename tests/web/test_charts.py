"""The server-side sparkline: a lot's total balance over its register lines."""

from __future__ import annotations

import datetime as dt

from web.charts import MAX_POINTS, lot_balance_series, sparkline

T0 = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def test_series_sums_the_lot_over_its_locations() -> None:
    """balance_after is per location: the lot's total adds the last balance of each location."""
    lines = [(1, 10, 40, at(0)), (1, 10, 35, at(1)), (1, 20, 5, at(1)), (2, 10, 7, at(2)), (1, 20, 3, at(3))]
    assert lot_balance_series(lines) == {1: [(at(0), 40), (at(1), 35), (at(1), 40), (at(3), 38)], 2: [(at(2), 7)]}


def test_sparkline_starts_at_zero_and_steps_to_each_balance() -> None:
    """Lead-in at zero, then one step per line, the highest balance at the top."""
    chart = sparkline([(at(0), 40), (at(1), 20)], width=110, height=42)
    assert chart.path == "M2,40.0 H12 V2.0 H60.0 V21.0 H108.0"
    assert (chart.last, chart.peak, chart.points, chart.first_at, chart.last_at) == (20, 40, 2, at(0), at(1))


def test_sparkline_keeps_the_latest_lines_of_a_long_history() -> None:
    """Past MAX_POINTS lines, the chart starts from the balance the earlier lines left."""
    values = [(at(i), i + 1) for i in range(MAX_POINTS + 10)]
    chart = sparkline(values)
    assert chart.points == MAX_POINTS
    assert chart.first_at == at(10)
    assert chart.path.startswith(f"M2,{round(36 - 2 - 32 * 10 / (MAX_POINTS + 10), 1)} H12")


def test_sparkline_of_a_lot_without_lines_is_flat() -> None:
    """No line yet: a flat line at zero and no dates."""
    chart = sparkline([])
    assert (chart.path, chart.points, chart.first_at) == ("M2,34.0 H12", 0, None)
