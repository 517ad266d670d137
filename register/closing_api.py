"""``/api/v1/register/closings/``: list the frozen monthly closings, close a month (pharmacist)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from config.errors import InvalidInput
from config.permissions import READ_REGISTER, Role
from register.api import establishment_for_request
from register.closing import closings_for, month_close
from register.models import MonthlyClosing

MONTH_FORMAT = r"\d{4}-(0[1-9]|1[0-2])"


def parse_month(value: str) -> dt.date:
    """``YYYY-MM`` -> the first day of that month; anything else is a 400."""
    if not re.fullmatch(MONTH_FORMAT, value or "") or value.startswith("0000"):
        raise InvalidInput("month is YYYY-MM.", fields={"month": ["Expected YYYY-MM."]})
    return dt.date(int(value[:4]), int(value[5:7]), 1)


class MonthlyClosingSerializer(serializers.ModelSerializer):
    establishment = serializers.CharField(source="establishment.code")
    product_name = serializers.CharField(source="product.name")
    month = serializers.SerializerMethodField()
    closed_by = serializers.CharField(source="closed_by_name")

    class Meta:
        model = MonthlyClosing
        fields = [
            "id", "establishment", "month", "product", "product_name", "opening", "entries", "exits", "closing",
            "head_number", "head_hash", "closed_at", "closed_by",
        ]

    def get_month(self, closing: MonthlyClosing) -> str:
        return f"{closing.month:%Y-%m}"


class MonthCloseSerializer(serializers.Serializer):
    month = serializers.RegexField(rf"^{MONTH_FORMAT}$", help_text="YYYY-MM")
    establishment = serializers.CharField(max_length=32, required=False)


class ClosingListCreateView(generics.ListAPIView):
    allowed_roles = {"GET": READ_REGISTER, "POST": frozenset({Role.PHARMACIST})}
    serializer_class = MonthlyClosingSerializer

    def get_queryset(self) -> Any:
        queryset = closings_for(self.request.user)
        params = self.request.query_params
        if params.get("establishment"):
            queryset = queryset.filter(establishment__code=params["establishment"])
        if params.get("month"):
            queryset = queryset.filter(month=parse_month(params["month"]))
        if params.get("product"):
            if not params["product"].isdigit() or len(params["product"]) > 18:
                raise InvalidInput("product is a product id.", fields={"product": ["Expected an integer."]})
            queryset = queryset.filter(product_id=int(params["product"]))
        return queryset

    @extend_schema(request=MonthCloseSerializer, responses={201: MonthlyClosingSerializer(many=True)})
    def post(self, request: Request) -> Response:
        data = MonthCloseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        establishment = establishment_for_request(request, data.validated_data.get("establishment"))
        rows = month_close(actor=request.user, establishment=establishment, month=parse_month(data.validated_data["month"]))
        return Response(MonthlyClosingSerializer(rows, many=True).data, status=status.HTTP_201_CREATED)
