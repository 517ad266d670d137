"""Rules the inventory workflow (and the other operations workflows) impose on reversals."""

from __future__ import annotations

from typing import Any

from config.errors import DomainError


def check_reversal_allowed(movement: Any) -> None:
    """Refuse reversing a line when a validated inventory of its lot came after it.

    A validated count is the physical truth of that date (R.5132-36: the inventory, once
    validated, cannot change). Reversing an earlier line would silently move the balance the
    count certified, so the correction must go through a new count instead. "After" is in
    register order: the count records the last order number once its adjustments are posted.
    Called by ``movement_reverse`` with the register lock held, so no validation can slip in.
    """
    from operations.models import InventoryCount
    from operations.rules import check_workflow_line_reversal

    check_workflow_line_reversal(movement)

    later = (
        InventoryCount.objects.filter(
            status=InventoryCount.Status.VALIDATED,
            establishment_id=movement.establishment_id,
            lines__lot_id=movement.lot_id,
            register_number__gte=movement.number,
        )
        .order_by("register_number")
        .first()
    )
    if later is not None:
        raise DomainError(
            "inventory_validated_after",
            f"Line {movement.number} is covered by the inventory validated on "
            f"{later.validated_at:%Y-%m-%d} (up to line {later.register_number}): it can no longer be reversed; "
            "correct the stock with a new count.",
        )
