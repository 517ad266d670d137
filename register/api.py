"""The register's HTTP API (API.md). Thin views: shape in serializers, rules in services."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.reads import AuditedReadMixin
from audit.services import audit_record
from config.errors import InvalidInput
from config.idempotency import idempotent
from config.permissions import ALL_ROLES, PHARMACY, READ_REGISTER, Role
from register import selectors, services
from register.filters import MovementFilter
from register.models import Establishment
from register.serializers import (
    LotCreateSerializer,
    LotSerializer,
    MovementCreateSerializer,
    MovementSerializer,
    ProductSerializer,
    ReverseSerializer,
    StockSerializer,
    VerifySerializer,
)


def establishment_for_request(request: Request, code: str | None = None) -> Establishment:
    """The establishment a request acts on: the one named (``establishment`` code), else the
    caller's only one. Another establishment's code answers 404, like any foreign object."""
    code = code or request.query_params.get("establishment") or request.headers.get("X-Establishment")
    mine = selectors.establishments_for(request.user)
    if code:
        return get_object_or_404(mine, code=code)
    establishments = list(mine[:2])
    if len(establishments) == 1:
        return establishments[0]
    if not establishments:
        raise InvalidInput("You belong to no establishment.", code="no_establishment")
    raise InvalidInput(
        "You belong to several establishments: name one with ?establishment=CODE.",
        fields={"establishment": ["Required when you belong to several establishments."]},
        code="establishment_required",
    )


class ProductListView(generics.ListAPIView):
    allowed_roles = {"GET": ALL_ROLES}
    serializer_class = ProductSerializer
    pagination_class = None

    def get_queryset(self) -> Any:
        return selectors.products_list()


class LotListCreateView(generics.ListAPIView):
    allowed_roles = {"GET": READ_REGISTER, "POST": PHARMACY}
    serializer_class = LotSerializer
    filterset_fields = ["product"]

    def get_queryset(self) -> Any:
        return selectors.lots_for(self.request.user)

    @extend_schema(request=LotCreateSerializer, responses={201: LotSerializer})
    def post(self, request: Request) -> Response:
        data = LotCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        establishment = establishment_for_request(request, data.validated_data.get("establishment"))
        lot = services.lot_create(
            actor=request.user,
            establishment=establishment,
            product=data.validated_data["product"],
            batch_number=data.validated_data["batch_number"],
            expires_on=data.validated_data["expires_on"],
        )
        return Response(LotSerializer(lot).data, status=status.HTTP_201_CREATED)


class StockListView(generics.ListAPIView):
    allowed_roles = {"GET": READ_REGISTER}
    serializer_class = StockSerializer

    def get_queryset(self) -> Any:
        queryset = selectors.stock_for(self.request.user)
        if self.request.query_params.get("include_empty") not in ("1", "true"):
            queryset = queryset.filter(on_hand__gt=0)
        return queryset


class MovementListCreateView(AuditedReadMixin, generics.ListAPIView):
    allowed_roles = {"GET": READ_REGISTER, "POST": PHARMACY}
    read_audit_action = "register.movements.viewed"  # lines carry patient names and addresses
    serializer_class = MovementSerializer
    filterset_class = MovementFilter

    def get_queryset(self) -> Any:
        return selectors.movements_for(self.request.user).select_related("paired_with").order_by("establishment_id", "number")

    @extend_schema(request=MovementCreateSerializer, responses={201: MovementSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        data = MovementCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        lot = selectors.lot_to_move(request.user, values["lot"])
        if lot is None:
            raise Http404("No Lot matches the given query.")
        if values["reason"] not in services.DIRECT_REASONS[values["direction"]]:
            raise InvalidInput(
                f"Reason {values['reason']!r} is not recorded here for an {values['direction']}: "
                "dispensations, transfers, reversals, inventory adjustments and destructions have their own workflow.",
                fields={"reason": ["Not allowed for a direct movement."]},
                code="reason_not_allowed",
            )
        location = None
        if values.get("location"):
            location = get_object_or_404(
                selectors.locations_for(request.user), establishment_id=lot.establishment_id, code=values["location"]
            )
        from operations.services import direct_movement_record  # operations builds on register

        movement = direct_movement_record(
            actor=request.user,
            lot=lot,
            location=location,
            direction=values["direction"],
            reason=values["reason"],
            quantity=values["quantity"],
            counterparty=values["counterparty"],
            occurred_at=values.get("occurred_at"),
            note=values["note"],
            late_entry_reason=values["late_entry_reason"],
        )
        return Response(MovementSerializer(movement).data, status=status.HTTP_201_CREATED)


class MovementDetailView(AuditedReadMixin, generics.RetrieveAPIView):
    """A register line. PUT, PATCH and DELETE are not offered: 405 for everyone."""

    allowed_roles = {"GET": READ_REGISTER}
    serializer_class = MovementSerializer
    read_detail_audit_action = "register.movement.viewed"

    def get_queryset(self) -> Any:
        return selectors.movements_for(self.request.user).select_related("paired_with")


class MovementReverseView(APIView):
    allowed_roles = {"POST": frozenset({Role.PHARMACIST})}

    @extend_schema(request=ReverseSerializer, responses={201: MovementSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        data = ReverseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movement = get_object_or_404(selectors.movements_for(request.user), pk=pk)
        reversal = services.movement_reverse(actor=request.user, movement=movement, reason=data.validated_data["reason"])
        return Response(MovementSerializer(reversal).data, status=status.HTTP_201_CREATED)


class RegisterVerifyView(APIView):
    allowed_roles = {"GET": frozenset({Role.PHARMACIST, Role.INSPECTOR})}

    @extend_schema(responses={200: VerifySerializer})
    def get(self, request: Request) -> Response:
        establishment = establishment_for_request(request)
        result = selectors.register_verify(establishment)
        audit_record(
            action="register.verified",
            actor=request.user,
            establishment=establishment,
            data={"ok": result.ok, "lines": result.lines, "first_broken": result.first_broken},
        )
        return Response(result.as_dict())

