from django.urls import path

from prescriptions import api

urlpatterns = [
    path("patients/", api.PatientListCreateView.as_view(), name="patient-list"),
    path("patients/<int:pk>/", api.PatientDetailView.as_view(), name="patient-detail"),
    path("patients/<int:pk>/exposure/", api.PatientExposureView.as_view(), name="patient-exposure"),
    path("prescriptions/", api.PrescriptionListCreateView.as_view(), name="prescription-list"),
    path("prescriptions/<int:pk>/", api.PrescriptionDetailView.as_view(), name="prescription-detail"),
    path("prescriptions/<int:pk>/cancel/", api.PrescriptionCancelView.as_view(), name="prescription-cancel"),
    path("prescriptions/<int:pk>/pdf", api.PrescriptionPdfView.as_view(), name="prescription-pdf"),
    path(
        "prescriptions/<int:pk>/dispensations/",
        api.DispensationListCreateView.as_view(),
        name="prescription-dispensations",
    ),
]
