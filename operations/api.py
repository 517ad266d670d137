"""HTTP API of the register workflows. Thin views: shape in serializers, rules in services."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.idempotency import idempotent
from config.permissions import PHARMACY, READ_REGISTER, Role
from operations import selectors, serializers, services
from operations.models import InventoryCount
from register import selectors as register_selectors
from register.api import establishment_for_request
from register.models import Location, Lot, Movement, StockBalance
from register.serializers import LotSerializer, MovementSerializer, ReverseSerializer, StockSerializer

PHARMACIST = frozenset({Role.PHARMACIST})
NURSE_AND_PHARMACIST = frozenset({Role.NURSE, Role.PHARMACIST})
WARD_READERS = READ_REGISTER | {Role.NURSE}


def _lot(request: Request, pk: int) -> Lot:
    return get_object_or_404(register_selectors.lots_for(request.user).select_related("product__substance"), pk=pk)


def _location(request: Request, establishment_id: int, code: str) -> Location:
    return get_object_or_404(register_selectors.locations_for(request.user), establishment_id=establishment_id, code=code)


def _created(data: Any) -> Response:
    return Response(data, status=status.HTTP_201_CREATED)


# --- Inventory --------------------------------------------------------------------------------


class InventoryListCreateView(generics.ListAPIView):
    allowed_roles = {"GET": READ_REGISTER, "POST": PHARMACY}
    serializer_class = serializers.InventorySerializer
    filterset_fields = ["status"]

    def get_queryset(self) -> Any:
        return selectors.inventories_for(self.request.user).prefetch_related("lines__lot__product", "lines__counted_by")

    @extend_schema(request=serializers.InventoryCreateSerializer, responses={201: serializers.InventorySerializer})
    def post(self, request: Request) -> Response:
        data = serializers.InventoryCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        establishment = establishment_for_request(request, data.validated_data.get("establishment"))
        location = _location(request, establishment.pk, data.validated_data["location"])
        count = services.inventory_open(actor=request.user, location=location, note=data.validated_data["note"])
        return _created(serializers.InventorySerializer(count).data)


class InventoryDetailView(generics.RetrieveAPIView):
    allowed_roles = {"GET": READ_REGISTER}
    serializer_class = serializers.InventorySerializer

    def get_queryset(self) -> Any:
        return selectors.inventories_for(self.request.user)


class _InventoryAction(APIView):
    def count(self, request: Request, pk: int) -> InventoryCount:
        return get_object_or_404(selectors.inventories_for(request.user), pk=pk)

    def answer(self, count: InventoryCount) -> Response:
        return Response(serializers.InventorySerializer(InventoryCount.objects.get(pk=count.pk)).data)


class InventoryLinesView(_InventoryAction):
    allowed_roles = {"GET": READ_REGISTER, "POST": PHARMACY}

    @extend_schema(responses={200: serializers.InventoryLineSerializer(many=True)})
    def get(self, request: Request, pk: int) -> Response:
        count = self.count(request, pk)
        lines = count.lines.select_related("lot__product", "count", "counted_by")
        return Response(serializers.InventoryLineSerializer(lines, many=True).data)

    @extend_schema(request=serializers.InventoryLineInputSerializer, responses={200: serializers.InventoryLineSerializer})
    def post(self, request: Request, pk: int) -> Response:
        count = self.count(request, pk)
        data = serializers.InventoryLineInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lot = get_object_or_404(register_selectors.lots_for(request.user), pk=data.validated_data["lot"],
                                establishment_id=count.establishment_id)
        line = services.inventory_line_set(
            actor=request.user, count=count, lot=lot,
            counted=data.validated_data["counted"], reason=data.validated_data["reason"],
        )
        line.refresh_from_db()
        return Response(serializers.InventoryLineSerializer(line).data)


class InventorySubmitView(_InventoryAction):
    allowed_roles = {"POST": PHARMACY}

    @extend_schema(request=None, responses={200: serializers.InventorySerializer})
    def post(self, request: Request, pk: int) -> Response:
        return self.answer(services.inventory_submit(actor=request.user, count=self.count(request, pk)))


class InventoryReopenView(_InventoryAction):
    allowed_roles = {"POST": PHARMACY}

    @extend_schema(request=None, responses={200: serializers.InventorySerializer})
    def post(self, request: Request, pk: int) -> Response:
        return self.answer(services.inventory_reopen(actor=request.user, count=self.count(request, pk)))


class InventoryValidateView(_InventoryAction):
    # DOMAIN.md §5: a technician counts; only a pharmacist validates.
    allowed_roles = {"POST": PHARMACIST}

    @extend_schema(request=None, responses={200: serializers.InventorySerializer})
    def post(self, request: Request, pk: int) -> Response:
        return self.answer(services.inventory_validate(actor=request.user, count=self.count(request, pk)))


# --- Destruction ------------------------------------------------------------------------------


class LotQuarantineView(APIView):
    allowed_roles = {"POST": PHARMACIST}

    @extend_schema(request=serializers.QuarantineSerializer, responses={200: LotSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = serializers.QuarantineSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        lot = services.lot_quarantine(actor=request.user, lot=_lot(request, pk), reason=data.validated_data["reason"])
        return Response(LotSerializer(lot).data)


class DestructionListCreateView(generics.ListAPIView):
    allowed_roles = {"GET": READ_REGISTER, "POST": PHARMACIST}
    serializer_class = serializers.DestructionSerializer

    def get_queryset(self) -> Any:
        return selectors.destructions_for(self.request.user)

    @extend_schema(request=serializers.DestructionCreateSerializer, responses={201: serializers.DestructionSerializer})
    def post(self, request: Request) -> Response:
        data = serializers.DestructionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        establishment = establishment_for_request(request, values.get("establishment"))
        items = [
            (get_object_or_404(register_selectors.lots_for(request.user), pk=item["lot"], establishment=establishment),
             item["quantity"])
            for item in values["lots"]
        ]
        record = services.destruction_perform(
            actor=request.user,
            establishment=establishment,
            location=_location(request, establishment.pk, values["location"]),
            items=items,
            inspector_notified_on=values["inspector_notified_on"],
            inspector_name=values["inspector_name"],
            method=values["method"],
            witness_username=values["witness_username"],
            witness_password=values["witness_password"],
            note=values["note"],
        )
        return _created(serializers.DestructionSerializer(selectors.destructions_for(request.user).get(pk=record.pk)).data)


class DestructionDetailView(generics.RetrieveAPIView):
    allowed_roles = {"GET": READ_REGISTER}
    serializer_class = serializers.DestructionSerializer

    def get_queryset(self) -> Any:
        return selectors.destructions_for(self.request.user)


class DestructionPdfView(APIView):
    allowed_roles = {"GET": READ_REGISTER}

    @extend_schema(responses={(200, "application/pdf"): bytes})
    def get(self, request: Request, pk: int) -> HttpResponse:
        record = get_object_or_404(selectors.destructions_for(request.user).defer(None), pk=pk)
        response = HttpResponse(bytes(record.pdf), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{record.reference}.pdf"'
        response["X-Content-SHA256"] = record.pdf_sha256
        return response


# --- Theft and loss ---------------------------------------------------------------------------


class TheftLossReportListCreateView(generics.ListAPIView):
    allowed_roles = {"GET": READ_REGISTER, "POST": PHARMACIST}
    serializer_class = serializers.TheftLossReportSerializer

    def get_queryset(self) -> Any:
        queryset = selectors.theft_loss_reports_for(self.request.user)
        if self.request.query_params.get("incomplete") in ("1", "true"):
            queryset = selectors.theft_loss_reports_incomplete(queryset)
        return queryset

    @extend_schema(request=serializers.TheftLossCreateSerializer, responses={201: serializers.TheftLossReportSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        data = serializers.TheftLossCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        lot = _lot(request, values["lot"])
        report = services.theft_loss_report_create(
            actor=request.user, lot=lot, kind=values["kind"], quantity=values["quantity"],
            location=_location(request, lot.establishment_id, values["location"]),
            circumstances=values["circumstances"], discovered_at=values.get("discovered_at"),
            late_entry_reason=values["late_entry_reason"],
        )
        return _created(serializers.TheftLossReportSerializer(report).data)


class TheftLossReportDetailView(generics.RetrieveAPIView):
    allowed_roles = {"GET": READ_REGISTER}
    serializer_class = serializers.TheftLossReportSerializer

    def get_queryset(self) -> Any:
        return selectors.theft_loss_reports_for(self.request.user)


class TheftLossStepView(APIView):
    allowed_roles = {"POST": PHARMACIST}

    @extend_schema(request=serializers.TheftLossStepCreateSerializer, responses={201: serializers.TheftLossStepSerializer})
    def post(self, request: Request, pk: int) -> Response:
        report = get_object_or_404(selectors.theft_loss_reports_for(request.user), pk=pk)
        data = serializers.TheftLossStepCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        step = services.theft_loss_step_record(
            actor=request.user, report=report, step=data.validated_data["step"],
            done_at=data.validated_data.get("done_at"), reference=data.validated_data["reference"],
        )
        return _created(serializers.TheftLossStepSerializer(step).data)


# --- Ward stock -------------------------------------------------------------------------------


class TransferCreateView(APIView):
    allowed_roles = {"POST": PHARMACY}

    @extend_schema(request=serializers.TransferCreateSerializer, responses={201: serializers.TransferSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        data = serializers.TransferCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        lot = _lot(request, values["lot"])
        out, into = services.transfer_create(
            actor=request.user, lot=lot, quantity=values["quantity"], note=values["note"],
            source=_location(request, lot.establishment_id, values["from"]),
            destination=_location(request, lot.establishment_id, values["to"]),
        )
        return _created(serializers.TransferSerializer({"transfer_out": out, "transfer_in": into}).data)


class TransferReverseView(APIView):
    """POST on either line of a transfer: both are reversed; the answer lists the two new lines."""

    allowed_roles = {"POST": PHARMACIST}

    @extend_schema(request=ReverseSerializer, responses={201: MovementSerializer(many=True)})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        data = ReverseSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movement = get_object_or_404(register_selectors.movements_for(request.user), pk=pk)
        undo_in, undo_out = services.transfer_reverse(actor=request.user, movement=movement,
                                                      reason=data.validated_data["reason"])
        return _created(MovementSerializer([undo_in, undo_out], many=True).data)


class AdministrationCreateView(APIView):
    allowed_roles = {"POST": NURSE_AND_PHARMACIST}

    @extend_schema(request=serializers.AdministrationCreateSerializer, responses={201: MovementSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        data = serializers.AdministrationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        lot = _lot(request, values.pop("lot"))
        ward = _location(request, lot.establishment_id, values.pop("ward"))
        movement = services.administration_record(actor=request.user, lot=lot, ward=ward, **values)
        return _created(MovementSerializer(movement).data)


class WardReturnListCreateView(generics.ListAPIView):
    allowed_roles = {"GET": WARD_READERS, "POST": NURSE_AND_PHARMACIST | PHARMACY}
    serializer_class = serializers.WardReturnSerializer

    def get_queryset(self) -> Any:
        return selectors.ward_returns_for(self.request.user)

    @extend_schema(request=serializers.WardReturnCreateSerializer, responses={201: serializers.WardReturnSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        data = serializers.WardReturnCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        lot = _lot(request, values["lot"])
        ward_return = services.ward_return_record(
            actor=request.user, lot=lot, ward=_location(request, lot.establishment_id, values["ward"]),
            kind=values["kind"], quantity=values["quantity"], note=values["note"],
        )
        return _created(serializers.WardReturnSerializer(ward_return).data)


class _WardView(generics.ListAPIView):
    allowed_roles = {"GET": WARD_READERS}

    def ward(self) -> Location:
        return get_object_or_404(selectors.wards_for(self.request.user), code=self.kwargs["code"])


class WardStockView(_WardView):
    """The ward's balance (its *dotation*), per lot."""

    serializer_class = StockSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no ward in the URL
            return StockBalance.objects.none()
        return selectors.ward_stock(self.ward())


class WardMovementsView(_WardView):
    """The ward's own register view."""

    serializer_class = MovementSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Movement.objects.none()
        return selectors.ward_movements(self.ward())


class WardAssignmentCreateView(APIView):
    allowed_roles = {"POST": PHARMACIST}

    @extend_schema(request=serializers.WardAssignmentCreateSerializer, responses={201: None})
    def post(self, request: Request) -> Response:
        data = serializers.WardAssignmentCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ward = get_object_or_404(
            register_selectors.locations_for(request.user), code=data.validated_data["ward"], kind=Location.Kind.WARD
        )
        nurse = get_object_or_404(
            get_user_model().objects.filter(establishments=ward.establishment), username=data.validated_data["nurse"]
        )
        assignment = services.nurse_ward_assign(actor=request.user, nurse=nurse, ward=ward)
        return _created({"id": assignment.pk, "nurse": nurse.get_username(), "ward": ward.code})
