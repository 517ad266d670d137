from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from prescriptions.models import Patient, Prescriber, SecurePrescription


@admin.register(Prescriber)
class PrescriberAdmin(SimpleHistoryAdmin):
    list_display = ["user", "title", "rpps"]


@admin.register(Patient)
class PatientAdmin(SimpleHistoryAdmin):
    list_display = ["last_name", "first_name", "birth_date", "establishment"]

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


@admin.register(SecurePrescription)
class SecurePrescriptionAdmin(SimpleHistoryAdmin):
    list_display = ["id", "patient", "prescriber", "issued_on", "duration_days", "status"]
    readonly_fields = [f.name for f in SecurePrescription._meta.fields]

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
