"""The baseline of bench/append.py: what a typical Django team would write for a stock movement.

The same columns as ``register.Movement`` minus the chain (no number, no hash, no balance, no
lock), with django-simple-history on the model for the audit trail.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords


class PlainMovement(models.Model):
    establishment = models.ForeignKey("register.Establishment", on_delete=models.PROTECT, related_name="+")
    location = models.ForeignKey("register.Location", on_delete=models.PROTECT, related_name="+")
    lot = models.ForeignKey("register.Lot", on_delete=models.PROTECT, related_name="+")
    direction = models.CharField(max_length=5, choices=[("entry", "entry"), ("exit", "exit")])
    reason = models.CharField(max_length=20)
    quantity = models.PositiveIntegerField()
    counterparty = models.CharField(max_length=500, blank=True)
    prescriber_name = models.CharField(max_length=200, blank=True)
    prescriber_address = models.CharField(max_length=500, blank=True)
    patient_name = models.CharField(max_length=200, blank=True)
    patient_address = models.CharField(max_length=500, blank=True)
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    late_entry_reason = models.TextField(blank=True)
    history = HistoricalRecords()
