from __future__ import annotations

import django_filters

from register.models import Movement


class MovementFilter(django_filters.FilterSet):
    product = django_filters.NumberFilter(field_name="lot__product_id")
    lot = django_filters.NumberFilter(field_name="lot_id")
    location = django_filters.CharFilter(field_name="location__code")
    establishment = django_filters.CharFilter(field_name="establishment__code")
    direction = django_filters.ChoiceFilter(choices=Movement.Direction.choices)
    reason = django_filters.ChoiceFilter(choices=Movement.Reason.choices)
    # API.md names these `from` and `to`, which are Python keywords.
    locals()["from"] = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__gte")
    locals()["to"] = django_filters.DateFilter(field_name="occurred_at", lookup_expr="date__lte")

    class Meta:
        model = Movement
        fields: list[str] = []
