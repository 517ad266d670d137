from django.urls import path

from audit import api

urlpatterns = [
    path("audit/events/", api.AuditEventListView.as_view(), name="audit-event-list"),
]
