"""Reads of the audit trail, scoped to the caller's establishments like every other read."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet

from audit.models import AuditEvent
from register.selectors import establishments_for


def audit_events_for(user: Any, establishment: Any = None) -> QuerySet[AuditEvent]:
    """The events a pharmacist or inspector may read, newest first (of one of their
    establishments only when ``establishment`` is given, as on the web audit page).

    An event tied to an establishment is visible to that establishment's members. An event with
    no establishment (logins, logouts, token revocations, failed logins) is visible to the
    members of the establishments the person it is about belongs to: the actor when known, or,
    for a failed login, the user whose username was typed. Failed logins for a username that
    matches nobody concern no establishment and stay out of the API (Django admin only): showing
    them would let one establishment read what strangers type into the login form.
    """
    mine = establishments_for(user)
    if establishment is not None:
        mine = mine.filter(pk=establishment.pk)
    members = get_user_model().objects.filter(establishments__in=mine)
    return (
        AuditEvent.objects.filter(
            Q(establishment__in=mine)
            | Q(establishment__isnull=True, actor__in=members)
            | Q(
                establishment__isnull=True,
                actor__isnull=True,
                action__startswith="auth.login.",
                actor_username__in=members.values("username"),
            )
        )
        .select_related("establishment")
        .order_by("-occurred_at", "-id")
    )
