from django.urls import include, path
from rest_framework.routers import SimpleRouter

from bench.plainapp.api import PlainMovementViewSet
from config.urls import urlpatterns as project_urlpatterns

router = SimpleRouter()
router.register("plain-movements", PlainMovementViewSet, basename="plain-movement")

urlpatterns = [path("api/v1/", include(router.urls)), *project_urlpatterns]
