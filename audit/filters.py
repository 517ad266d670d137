"""Filters of GET /api/v1/audit/events/: action, actor, object_type, object_id, from, to."""

from __future__ import annotations

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.db.models import QuerySet
from django.utils.dateparse import parse_date, parse_datetime

from audit.models import AuditEvent


class DateOrDateTimeField(forms.Field):
    """An ISO date (a whole day, in the establishment's time zone) or an ISO date-time."""

    def to_python(self, value: Any) -> dt.date | dt.datetime | None:
        if value in (None, ""):
            return None
        text = str(value).strip()
        try:
            parsed = parse_datetime(text) if "T" in text or " " in text else parse_date(text)
        except ValueError:
            parsed = None
        if parsed is None:
            raise forms.ValidationError("Enter an ISO 8601 date (2026-11-27) or date-time (2026-11-27T08:00:00+01:00).")
        return parsed


class DateOrDateTimeFilter(django_filters.Filter):
    field_class = DateOrDateTimeField


class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.CharFilter(
        method="filter_action", help_text="An action code, or a prefix ending in '*' (e.g. auth.*)."
    )
    actor = django_filters.CharFilter(field_name="actor_username", help_text="The actor's username.")
    object_type = django_filters.CharFilter(field_name="object_type", help_text="e.g. register.Movement")
    object_id = django_filters.CharFilter(field_name="object_id")
    establishment = django_filters.CharFilter(field_name="establishment__code")
    # API.md names these `from` and `to`, which are Python keywords.
    locals()["from"] = DateOrDateTimeFilter(method="filter_from", help_text="From this date or date-time, inclusive.")
    locals()["to"] = DateOrDateTimeFilter(method="filter_to", help_text="Up to this date or date-time, inclusive.")

    class Meta:
        model = AuditEvent
        fields: list[str] = []

    def filter_action(self, queryset: QuerySet[AuditEvent], name: str, value: str) -> QuerySet[AuditEvent]:
        if value.endswith("*"):
            return queryset.filter(action__startswith=value.rstrip("*"))
        return queryset.filter(action=value)

    def filter_from(self, queryset: QuerySet[AuditEvent], name: str, value: dt.date) -> QuerySet[AuditEvent]:
        if isinstance(value, dt.datetime):
            return queryset.filter(occurred_at__gte=value)
        return queryset.filter(occurred_at__date__gte=value)

    def filter_to(self, queryset: QuerySet[AuditEvent], name: str, value: dt.date) -> QuerySet[AuditEvent]:
        if isinstance(value, dt.datetime):
            return queryset.filter(occurred_at__lte=value)
        return queryset.filter(occurred_at__date__lte=value)
