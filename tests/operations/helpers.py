"""Small helpers shared by the workflow tests."""

from __future__ import annotations

from typing import Any

from register import services
from register.models import Location, Lot, Movement, StockBalance


def on_hand(lot: Lot, location: str = "VAULT") -> int:
    return (
        StockBalance.objects.filter(lot=lot, location__code=location, location__establishment_id=lot.establishment_id)
        .values_list("on_hand", flat=True)
        .first()
        or 0
    )


def location(lot: Lot, code: str) -> Location:
    return Location.objects.get(establishment_id=lot.establishment_id, code=code)


def exit_line(actor: Any, lot: Lot, quantity: int = 1, reason: str = "loss", **kwargs: Any) -> Movement:
    return services.movement_record(
        actor=actor, lot=lot, direction="exit", reason=reason, quantity=quantity, counterparty="test", **kwargs
    )


def entry_line(actor: Any, lot: Lot, quantity: int = 1, **kwargs: Any) -> Movement:
    return services.movement_record(
        actor=actor, lot=lot, direction="entry", reason="receipt", quantity=quantity, counterparty="supplier", **kwargs
    )
