"""Patients, secure prescriptions and dispensations over HTTP (API.md). Thin views."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.reads import AuditedReadMixin
from audit.services import audit_record
from config.idempotency import idempotent
from config.permissions import PHARMACY, Role
from prescriptions import selectors, services
from prescriptions.models import Dispensation
from prescriptions.pdf import prescription_pdf
from prescriptions.serializers import (
    CancelSerializer,
    DispensationCreateSerializer,
    DispensationSerializer,
    IssuedPrescriptionSerializer,
    PatientCreateSerializer,
    PatientSerializer,
    PrescriptionCreateSerializer,
    PrescriptionSerializer,
)
from register.api import establishment_for_request
from register.selectors import lots_for, products_list

PRESCRIBER = frozenset({Role.PRESCRIBER})
PRESCRIBER_OR_PHARMACY = PRESCRIBER | PHARMACY


class PatientListCreateView(AuditedReadMixin, generics.ListAPIView):
    allowed_roles = {"GET": PRESCRIBER_OR_PHARMACY, "POST": PRESCRIBER_OR_PHARMACY}
    read_audit_action = "prescriptions.patients.viewed"
    serializer_class = PatientSerializer

    def get_queryset(self) -> Any:
        return selectors.patients_for(self.request.user)

    @extend_schema(request=PatientCreateSerializer, responses={201: PatientSerializer})
    def post(self, request: Request) -> Response:
        data = PatientCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        establishment = establishment_for_request(request, values.pop("establishment", None))
        patient = services.patient_create(actor=request.user, establishment=establishment, **values)
        return Response(PatientSerializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetailView(AuditedReadMixin, generics.RetrieveAPIView):
    allowed_roles = {"GET": PRESCRIBER_OR_PHARMACY}
    read_detail_audit_action = "prescriptions.patient.viewed"
    serializer_class = PatientSerializer

    def get_queryset(self) -> Any:
        return selectors.patients_for(self.request.user)


class PatientExposureView(APIView):
    allowed_roles = {"GET": frozenset({Role.PRESCRIBER, Role.PHARMACIST})}

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, pk: int) -> Response:
        patient = get_object_or_404(selectors.exposure_patients_for(request.user), pk=pk)
        audit_record(action="prescriptions.patient.exposure_viewed", actor=request.user,
                     establishment=patient.establishment, obj=patient)
        return Response(selectors.patient_exposure(patient))


class PrescriptionListCreateView(AuditedReadMixin, generics.ListAPIView):
    allowed_roles = {"GET": PRESCRIBER_OR_PHARMACY, "POST": PRESCRIBER}
    read_audit_action = "prescriptions.prescriptions.viewed"
    serializer_class = PrescriptionSerializer
    filterset_fields = ["patient", "status"]

    def get_queryset(self) -> Any:
        return selectors.prescriptions_for(self.request.user)

    @extend_schema(request=PrescriptionCreateSerializer, responses={201: IssuedPrescriptionSerializer})
    def post(self, request: Request) -> Response:
        data = PrescriptionCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = get_object_or_404(selectors.patients_for(request.user), pk=values.pop("patient"))
        products = products_list()
        lines = [
            services.LineInput(**{**line, "product": get_object_or_404(products, pk=line["product"])})
            for line in values.pop("lines")
        ]
        issued = services.prescription_issue(actor=request.user, patient=patient, lines=lines, **values)
        body = IssuedPrescriptionSerializer(issued.prescription, context={"alerts": issued.alerts}).data
        return Response(body, status=status.HTTP_201_CREATED)


class PrescriptionDetailView(AuditedReadMixin, generics.RetrieveAPIView):
    allowed_roles = {"GET": PRESCRIBER_OR_PHARMACY}
    read_detail_audit_action = "prescriptions.prescription.viewed"
    serializer_class = PrescriptionSerializer

    def get_queryset(self) -> Any:
        return selectors.prescriptions_for(self.request.user)


class PrescriptionCancelView(APIView):
    allowed_roles = {"POST": PRESCRIBER}

    @extend_schema(request=CancelSerializer, responses={200: PrescriptionSerializer})
    def post(self, request: Request, pk: int) -> Response:
        data = CancelSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        prescription = get_object_or_404(selectors.prescriptions_for(request.user), pk=pk)
        cancelled = services.prescription_cancel(
            actor=request.user, prescription=prescription, reason=data.validated_data["reason"]
        )
        return Response(PrescriptionSerializer(cancelled).data)


class PrescriptionPdfView(APIView):
    allowed_roles = {"GET": PRESCRIBER_OR_PHARMACY}

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    def get(self, request: Request, pk: int) -> HttpResponse:
        prescription = get_object_or_404(selectors.prescriptions_for(request.user), pk=pk)
        audit_record(action="prescriptions.prescription.printed", actor=request.user,
                     establishment=prescription.establishment, obj=prescription)
        response = HttpResponse(prescription_pdf(prescription), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="ordonnance-{prescription.pk}.pdf"'
        return response


class DispensationListCreateView(generics.ListAPIView):
    allowed_roles = {"GET": PRESCRIBER_OR_PHARMACY, "POST": PHARMACY}
    serializer_class = DispensationSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # schema generation: no request, no pk
            return Dispensation.objects.none()
        prescription = get_object_or_404(selectors.prescriptions_for(self.request.user), pk=self.kwargs["pk"])
        return selectors.dispensations_of(prescription)

    @extend_schema(request=DispensationCreateSerializer, responses={201: DispensationSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        data = DispensationCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        prescription = get_object_or_404(selectors.prescriptions_for(request.user), pk=pk)
        lot = get_object_or_404(lots_for(request.user).select_related("product__substance"), pk=values["lot"])
        bearer = values.get("bearer") or {}
        dispensation = services.dispensation_create(
            actor=request.user,
            prescription=prescription,
            lot=lot,
            quantity=values["quantity"],
            override_justification=values["override_justification"],
            bearer_name=bearer.get("name", ""),
            bearer_id=bearer.get("id", ""),
        )
        return Response(DispensationSerializer(dispensation).data, status=status.HTTP_201_CREATED)
