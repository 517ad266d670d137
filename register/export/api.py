"""``GET /api/v1/register/export.pdf`` and ``.csv`` (API.md): the legal register, for inspectors.

Plain APIView paths, not DRF format suffixes: the ``.pdf`` is part of the path. Content
negotiation is pinned to JSON, which is only used for error bodies; a file answer is a Django
response that bypasses the renderers, so an ``Accept: application/pdf`` header is never a 406.
"""

from __future__ import annotations

import tempfile
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.request import Request
from rest_framework.views import APIView

from config.permissions import Role
from register.api import establishment_for_request
from register.export.lines import ExportScope
from register.export.services import register_csv_export, register_pdf_export
from register.models import Product

EXPORT_ROLES = frozenset({Role.PHARMACIST, Role.INSPECTOR})
SPOOL_IN_MEMORY = 8 * 1024 * 1024  # beyond this the PDF goes to a temporary file on disk


class ExportQuerySerializer(serializers.Serializer):
    # API.md names the bounds `from` and `to`; `from` is a Python keyword.
    locals()["from"] = serializers.DateField(required=False)
    to = serializers.DateField(required=False)
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all(), required=False)
    establishment = serializers.CharField(max_length=32, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("from"), attrs.get("to")
        if start and end and start > end:
            raise serializers.ValidationError({"to": ["Must not be before `from`."]})
        return attrs


class _PinnedNegotiation(BaseContentNegotiation):
    def select_parser(self, request: Any, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Any, renderers: Any, format_suffix: Any = None) -> Any:
        return renderers[0], renderers[0].media_type


_PARAMETERS = [
    OpenApiParameter("from", OpenApiTypes.DATE, description="First day of the period (operation date)."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="Last day of the period, included."),
    OpenApiParameter("product", OpenApiTypes.INT, description="Only this product's lines."),
    OpenApiParameter("establishment", OpenApiTypes.STR, description="Establishment code (when you have several)."),
]


def _scope(request: Request) -> ExportScope:
    query = ExportQuerySerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    values = query.validated_data
    establishment = establishment_for_request(request, values.get("establishment"))
    return ExportScope.snapshot(
        establishment, date_from=values.get("from"), date_to=values.get("to"), product=values.get("product")
    )


def _filename(scope: ExportScope, extension: str) -> str:
    start = scope.date_from.isoformat() if scope.date_from else "debut"
    end = scope.date_to.isoformat() if scope.date_to else scope.generated_at.date().isoformat()
    return f"registre-{scope.establishment.code}-{start}-{end}.{extension}"


class RegisterPdfExportView(APIView):
    allowed_roles = {"GET": EXPORT_ROLES}
    content_negotiation_class = _PinnedNegotiation

    @extend_schema(
        parameters=_PARAMETERS,
        responses={(200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The register as PDF.")},
    )
    def get(self, request: Request) -> FileResponse:
        scope = _scope(request)
        # The whole file is needed for its hash (audit) before the answer starts; the spool keeps
        # a small one in memory and puts a long register on disk.
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # closed by FileResponse
        result = register_pdf_export(out=spool, scope=scope, actor=request.user)  # type: ignore[arg-type]
        spool.seek(0)
        response = FileResponse(spool, content_type="application/pdf", as_attachment=True, filename=_filename(scope, "pdf"))
        response["X-Register-Lines"] = str(result.lines)
        response["X-Register-SHA256"] = result.sha256
        return response


class RegisterCsvExportView(APIView):
    allowed_roles = {"GET": EXPORT_ROLES}
    content_negotiation_class = _PinnedNegotiation

    @extend_schema(
        parameters=_PARAMETERS,
        responses={(200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The register as CSV.")},
    )
    def get(self, request: Request) -> StreamingHttpResponse:
        scope = _scope(request)
        stream = register_csv_export(scope=scope, actor=request.user)
        response = StreamingHttpResponse(iter(stream), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{_filename(scope, "csv")}"'
        return response
