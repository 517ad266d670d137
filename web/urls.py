"""The web interface, at the site root. Pages of other workflows (prescriptions, dispensations,
inventory) plug in here as they are built."""

from django.contrib.auth import views as auth_views
from django.urls import include, path

from web import dispensing, prescribing, transfers, views

app_name = "web"

urlpatterns = [
    path("", views.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(template_name="web/login.html", redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("stock/", views.stock, name="stock"),
    path("stock/receipt/", views.receipt, name="receipt"),
    path("stock/exit/", views.exit_, name="exit"),
    path("register/", views.register, name="register"),
    path("register/<int:pk>/", views.movement, name="movement"),
    path("register/<int:pk>/reverse/", views.movement_reverse, name="movement-reverse"),
    path("inspection/", views.inspection, name="inspection"),
    path("audit/", views.audit, name="audit"),
    path("patients/", prescribing.patients, name="patients"),
    path("patients/new/", prescribing.patient_create, name="patient-new"),
    path("patients/<int:pk>/", prescribing.patient, name="patient"),
    path("patients/<int:pk>/prescribe/", prescribing.prescription_new, name="prescription-new"),
    path("prescriptions/", prescribing.prescriptions, name="prescriptions"),
    path("prescriptions/<int:pk>/", prescribing.prescription, name="prescription"),
    path("prescriptions/<int:pk>/cancel/", prescribing.prescription_cancel, name="prescription-cancel"),
    path("dispensing/", dispensing.waiting, name="waiting"),
    path("dispensing/<int:pk>/", dispensing.dispense, name="dispense"),
    path("transfers/", transfers.transfer, name="transfer"),
    path("ward/administration/", transfers.administration, name="administration"),
]
