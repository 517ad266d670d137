"""Rules the workflows impose on reversals of their lines (called via register.inventory_rules)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from config.errors import DomainError

# The lines of a transfer pair being reversed together by ``transfer_reverse``: either half
# reversed alone would make units appear or vanish between two locations.
pair_reversal: ContextVar[frozenset[int]] = ContextVar("pair_reversal", default=frozenset())

TRANSFER_REASONS = ("transfer_out", "transfer_in")


def check_workflow_line_reversal(movement: Any) -> None:
    if movement.reason == "destruction":
        # The PV, signed by two pharmacists, certifies what was destroyed (arrêté du 12 mars 2013
        # art. 7); a destroyed ampoule cannot come back into stock.
        raise DomainError("destruction_final", f"Line {movement.number} records a destruction: it cannot be reversed.")
    if movement.reason in TRANSFER_REASONS and movement.pk not in pair_reversal.get():
        raise DomainError(
            "transfer_pair_reversal",
            f"Line {movement.number} is one half of a transfer: reverse the transfer "
            "(POST /api/v1/transfers/{id}/reverse/), which reverses both lines together.",
        )
