from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.auth_api import TokenRevokeView, TokenView


class _OpenSchemaView(SpectacularAPIView):
    allowed_roles: dict[str, frozenset[str]] = {"GET": frozenset()}


class _OpenDocsView(SpectacularSwaggerView):
    allowed_roles: dict[str, frozenset[str]] = {"GET": frozenset()}


api_v1: list[URLPattern | URLResolver] = [
    path("auth/token/", TokenView.as_view(), name="auth-token"),
    path("auth/token/revoke/", TokenRevokeView.as_view(), name="auth-token-revoke"),
    path("schema/", _OpenSchemaView.as_view(), name="schema"),
    path("docs/", _OpenDocsView.as_view(url_name="schema"), name="docs"),
    path("", include("register.urls")),
    path("", include("operations.urls")),
    path("", include("prescriptions.urls")),
    path("", include("register.export.urls")),
    path("", include("audit.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("admin/", admin.site.urls),
    path("", include("web.urls")),
]

# API.md: every 4xx under /api/ is JSON {code, detail}, even for a URL no route matches.
handler400 = "config.errors.handler400"
handler403 = "config.errors.handler403"
handler404 = "config.errors.handler404"
handler500 = "config.errors.handler500"
