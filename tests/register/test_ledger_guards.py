"""Guards the single writer keeps under the register lock: quarantine and closed months."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from config.errors import DomainError
from register import services
from register.closing import month_close
from register.models import Lot


def test_an_exit_from_a_lot_quarantined_meanwhile_is_refused_under_the_lock(pharmacist, make_lot):
    """A stale lot object (loaded before the quarantine) cannot slip an exit past it."""
    lot = make_lot(units=5, batch="Q-RACE")
    Lot.objects.filter(pk=lot.pk).update(quarantined_at=timezone.now())
    assert lot.quarantined_at is None  # the caller's copy predates the quarantine
    with pytest.raises(DomainError) as refused:
        services.movement_record(actor=pharmacist, lot=lot, direction="exit", reason="loss", quantity=1)
    assert refused.value.code == "lot_quarantined"


def test_an_inventory_adjustment_still_moves_a_quarantined_lot(pharmacist, make_lot):
    """The count records what is physically there, quarantined or not."""
    lot = make_lot(units=5, batch="Q-ADJ")
    Lot.objects.filter(pk=lot.pk).update(quarantined_at=timezone.now())
    lot.refresh_from_db()
    line = services.movement_record(actor=pharmacist, lot=lot, direction="exit", reason="adjustment", quantity=1)
    assert line.balance_after == 4


def test_a_late_line_dated_in_a_closed_month_is_refused(pharmacist, demo, make_lot):
    """A closed month's balance is frozen: a backdated line inside it answers month_closed."""
    lot = make_lot(units=0, batch="CLOSED-1")
    first_of_month = timezone.localtime().replace(day=1, hour=12, minute=0, second=0, microsecond=0)
    last_month = first_of_month - dt.timedelta(days=10)
    services.movement_record(actor=pharmacist, lot=lot, direction="entry", reason="receipt", quantity=4,
                             occurred_at=last_month, late_entry_reason="Bon de livraison retrouvé")
    month_close(actor=pharmacist, establishment=demo["DEMO"], month=last_month.date().replace(day=1))
    with pytest.raises(DomainError) as refused:
        services.movement_record(actor=pharmacist, lot=lot, direction="exit", reason="loss", quantity=1,
                                 occurred_at=last_month, late_entry_reason="Casse oubliée")
    assert refused.value.code == "month_closed"
    line = services.movement_record(actor=pharmacist, lot=lot, direction="exit", reason="loss", quantity=1,
                                    note="Casse du mois dernier, saisie ce jour")
    assert line.balance_after == 3
