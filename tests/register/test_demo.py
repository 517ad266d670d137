"""The demo command's data: complete, consistent and idempotent."""

from __future__ import annotations

from django.core.management import call_command

from register.models import Establishment, Movement, StockBalance
from register.selectors import register_verify


def test_the_demo_command_is_idempotent_and_leaves_a_verified_register(db, capsys):
    """Running `demo` twice gives the same data: nurse on REA, ward stock, a waiting prescription."""
    from operations.models import NurseWardAssignment
    from prescriptions.models import Patient, SecurePrescription

    call_command("demo", password="demo-pass-2026")
    first = Movement.objects.count()
    call_command("demo", password="demo-pass-2026")
    assert Movement.objects.count() == first
    demo = Establishment.objects.get(code="DEMO")
    assert NurseWardAssignment.objects.filter(nurse__username="nurse", ward__code="REA").count() == 1
    assert StockBalance.objects.get(location__code="REA", location__establishment=demo).on_hand == 5
    assert Patient.objects.filter(establishment=demo).count() == 2
    assert SecurePrescription.objects.filter(patient__establishment=demo).count() == 1
    assert register_verify(demo).ok and register_verify(Establishment.objects.get(code="OTHER")).ok
    assert "pharmacist2" in capsys.readouterr().out
