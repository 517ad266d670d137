"""Demo data (API.md: ``manage.py demo --password PW``), idempotent."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from config.permissions import Role
from register import services
from register.listing import listing_load
from register.models import Establishment, Location, Lot, Movement, Product, Substance, SubstanceClassification

ESTABLISHMENTS = [
    ("DEMO", "CHU Démo", "Pharmacie à usage intérieur\n1 place de l'Hôpital\n75014 Paris"),
    ("OTHER", "Centre hospitalier Autre", "Pharmacie\n2 rue des Lilas\n69003 Lyon"),
]

USERS = [
    ("pharmacist", Role.PHARMACIST, "DEMO", "Claire", "Martin"),
    ("pharmacist2", Role.PHARMACIST, "DEMO", "Paul", "Bernard"),
    ("technician", Role.TECHNICIAN, "DEMO", "Julie", "Petit"),
    ("prescriber", Role.PRESCRIBER, "DEMO", "Antoine", "Durand"),
    ("inspector", Role.INSPECTOR, "DEMO", "Sophie", "Leroy"),
    ("nurse", Role.NURSE, "DEMO", "Emma", "Moreau"),
    ("outsider", Role.PHARMACIST, "OTHER", "Marc", "Roux"),
]

WARDS = [("REA", "Réanimation"), ("BRULES", "Centre des brûlés"), ("URG", "Urgences")]

# (product name, batch, months to expiry, units received)
LOTS = [
    ("Kétamine 50 mg/5 mL, solution injectable", "K50-2401", 18, 40),
    ("Kétamine 250 mg/5 mL, solution injectable", "K250-2402", 20, 25),
    ("Kétamine 500 mg/10 mL, solution injectable", "K500-2403", 24, 10),
    ("Eskétamine 50 mg/2 mL, solution injectable", "ESK50-2404", 12, 12),
]


def demo_load(*, password: str) -> dict[str, Any]:
    """Create or refresh the demo establishments, users, wards and stocked lots."""
    with transaction.atomic():
        listing_load(Substance, SubstanceClassification, Product)
        establishments = {}
        for code, name, address in ESTABLISHMENTS:
            establishment = Establishment.objects.filter(code=code).first()
            if establishment is None:
                establishment = services.establishment_create(code=code, name=name, address=address)
            establishments[code] = establishment
        demo = establishments["DEMO"]
        for code, name in WARDS:
            Location.objects.get_or_create(
                establishment=demo, code=code, defaults={"name": name, "kind": Location.Kind.WARD}
            )
        users = {}
        User = get_user_model()
        for username, role, establishment_code, first, last in USERS:
            group, _ = Group.objects.get_or_create(name=role.value)
            user, _ = User.objects.get_or_create(username=username, defaults={"first_name": first, "last_name": last})
            user.first_name, user.last_name = first, last
            user.email = f"{username}@demo.invalid"
            user.set_password(password)
            user.save()
            user.groups.add(group)
            establishments[establishment_code].members.add(user)
            users[username] = user
        from prescriptions.demo import demo_prescribers  # the prescriber's RPPS and address

        demo_prescribers(users)
        pharmacist = users["pharmacist"]
        today = timezone.localdate()
        for establishment in (demo, establishments["OTHER"]):
            for product_name, batch, months, units in LOTS:
                product = Product.objects.get(name=product_name)
                lot = Lot.objects.filter(establishment=establishment, product=product, batch_number=batch).first()
                if lot is None:
                    lot = services.lot_create(
                        actor=pharmacist if establishment == demo else users["outsider"],
                        establishment=establishment,
                        product=product,
                        batch_number=batch,
                        expires_on=today + dt.timedelta(days=30 * months),
                    )
                if not Movement.objects.filter(lot=lot).exists():
                    services.movement_record(
                        actor=pharmacist if establishment == demo else users["outsider"],
                        lot=lot,
                        direction=Movement.Direction.ENTRY,
                        reason=Movement.Reason.RECEIPT,
                        quantity=units,
                        counterparty="Grossiste répartiteur PharmaDis, 10 rue de l'Industrie, 93200 Saint-Denis",
                        note=f"Bon de livraison BL-{batch}",
                    )
    return {"establishments": list(establishments), "users": [u for u, *_ in USERS]}
