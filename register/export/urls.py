from django.urls import path

from register.closing_api import ClosingListCreateView
from register.export.api import RegisterCsvExportView, RegisterPdfExportView

# Plain paths: ".pdf" and ".csv" belong to the path (API.md), not to DRF's format suffixes.
urlpatterns = [
    path("register/export.pdf", RegisterPdfExportView.as_view(), name="register-export-pdf"),
    path("register/export.csv", RegisterCsvExportView.as_view(), name="register-export-csv"),
    path("register/closings/", ClosingListCreateView.as_view(), name="register-closings"),
]
