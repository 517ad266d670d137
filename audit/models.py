"""The audit trail: who did what, when and from where. Append-only, like the register."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import models
from simple_history import register
from simple_history.models import HistoricalRecords


class AuditEvent(models.Model):
    occurred_at = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    actor_username = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=32, blank=True)
    establishment = models.ForeignKey(
        "register.Establishment", null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=400, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["establishment", "-id"]),
            # The login lockout counts a username's recent failures (audit.lockout).
            models.Index(fields=["actor_username", "action", "occurred_at"], name="audit_login_attempts_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action}"


class IdempotencyKey(models.Model):
    """The first answer to a stock-changing write sent with an ``Idempotency-Key`` header.

    Written in the same transaction as the write it answers: a write that rolls back leaves no
    key, a committed write always has its key. Keys are per user (unique together).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and JSON body.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=400)
    status_code = models.PositiveSmallIntegerField(default=0)
    response_body = models.TextField(blank=True, help_text="The rendered JSON answer, replayed byte for byte.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key} -> {self.status_code}"


class _PersonHistory(HistoricalRecords):
    """Before/after of every change to a person (name, e-mail, active, staff), password excluded."""

    def post_save(self, instance: Any, created: bool, using: Any = None, **kwargs: Any) -> None:
        # Django saves last_login alone at every login: not a change to the person, and the
        # login itself is already an audit event.
        update_fields = kwargs.get("update_fields")
        if not created and update_fields and set(update_fields) <= {"last_login"}:
            return
        super().post_save(instance, created, using=using, **kwargs)


register(User, app="audit", records_class=_PersonHistory, excluded_fields=["password", "last_login"])
