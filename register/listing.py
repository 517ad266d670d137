"""The ketamine listing and the French presentations, as data (DOMAIN.md §1).

Ketamine, its isomers and salts: list I until 23 April 2017, narcotic (*stupéfiant*) from
24 April 2017 (ANSM, 2017). Racemic-equivalence factors: racemic and R-ketamine 1.0,
S-ketamine (esketamine) 2.0, about twice as potent. Presentations from the BDPM.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

LISTED_ON = dt.date(2017, 4, 24)
SOURCE = "ANSM, 2017 : kétamine classée comme stupéfiant à compter du 24 avril 2017"

SUBSTANCES = [
    ("KETAMINE", "Kétamine (racémique)", Decimal("1.00")),
    ("ESKETAMINE", "Eskétamine (S-kétamine)", Decimal("2.00")),
    ("ARKETAMINE", "Arkétamine (R-kétamine)", Decimal("1.00")),
]

PRODUCTS = [
    ("KETAMINE", "Kétamine 50 mg/5 mL, solution injectable", Decimal("50"), Decimal("5"), "ampoule"),
    ("KETAMINE", "Kétamine 250 mg/5 mL, solution injectable", Decimal("250"), Decimal("5"), "ampoule"),
    ("KETAMINE", "Kétamine 500 mg/10 mL, solution injectable", Decimal("500"), Decimal("10"), "flacon"),
    ("ESKETAMINE", "Eskétamine 50 mg/2 mL, solution injectable", Decimal("50"), Decimal("2"), "ampoule"),
]


def listing_load(Substance, Classification, Product) -> None:
    """Create what is missing of the listing; the models are passed in so a migration can use
    its historical models and the demo command the current ones."""
    for code, name, factor in SUBSTANCES:
        substance, _ = Substance.objects.get_or_create(code=code, defaults={"name": name, "racemic_factor": factor})
        Classification.objects.get_or_create(
            substance=substance,
            schedule="list_I",
            valid_from=dt.date(1900, 1, 1),
            defaults={"valid_to": LISTED_ON - dt.timedelta(days=1), "source": "Liste I (avant 2017)"},
        )
        Classification.objects.get_or_create(
            substance=substance, schedule="narcotic", valid_from=LISTED_ON, defaults={"source": SOURCE}
        )
    for substance_code, name, mg, ml, unit in PRODUCTS:
        Product.objects.get_or_create(
            name=name,
            defaults={
                "substance": Substance.objects.get(code=substance_code),
                "mg_per_unit": mg,
                "ml_per_unit": ml,
                "unit_label": unit,
                "form": "solution injectable",
                "max_prescription_days": 28,
            },
        )
