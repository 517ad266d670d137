"""Demo data of the prescriptions app: the demo prescriber's identity (R.5132-3)."""

from __future__ import annotations

from typing import Any

from prescriptions.models import Prescriber

DEMO_PRESCRIBERS = {
    "prescriber": ("Médecin anesthésiste-réanimateur", "10001234567", "CHU Démo, 1 place de l'Hôpital, 75014 Paris"),
}


def demo_prescribers(users: dict[str, Any]) -> None:
    """Idempotent: the demo prescriber's role, RPPS and address."""
    for username, (title, rpps, address) in DEMO_PRESCRIBERS.items():
        if username in users:
            Prescriber.objects.update_or_create(
                user=users[username], defaults={"title": title, "rpps": rpps, "address": address}
            )
