"""Rules the inventory workflow imposes on other register writes."""

from __future__ import annotations

from typing import Any


def check_reversal_allowed(movement: Any) -> None:
    """Refuse reversing a line when a validated inventory of its lot came after it.

    The inventory workflow (annual count, R.5132-36) fills this in once counts exist.
    """
    return None
