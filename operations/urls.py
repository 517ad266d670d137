from django.urls import path

from operations import api

urlpatterns = [
    path("inventories/", api.InventoryListCreateView.as_view(), name="inventory-list"),
    path("inventories/<int:pk>/", api.InventoryDetailView.as_view(), name="inventory-detail"),
    path("inventories/<int:pk>/lines/", api.InventoryLinesView.as_view(), name="inventory-lines"),
    path("inventories/<int:pk>/submit/", api.InventorySubmitView.as_view(), name="inventory-submit"),
    path("inventories/<int:pk>/reopen/", api.InventoryReopenView.as_view(), name="inventory-reopen"),
    path("inventories/<int:pk>/validate/", api.InventoryValidateView.as_view(), name="inventory-validate"),
    path("lots/<int:pk>/quarantine/", api.LotQuarantineView.as_view(), name="lot-quarantine"),
    path("destructions/", api.DestructionListCreateView.as_view(), name="destruction-list"),
    path("destructions/<int:pk>/", api.DestructionDetailView.as_view(), name="destruction-detail"),
    path("destructions/<int:pk>/pv.pdf", api.DestructionPdfView.as_view(), name="destruction-pv"),
    path("theft-loss-reports/", api.TheftLossReportListCreateView.as_view(), name="theft-loss-list"),
    path("theft-loss-reports/<int:pk>/", api.TheftLossReportDetailView.as_view(), name="theft-loss-detail"),
    path("theft-loss-reports/<int:pk>/steps/", api.TheftLossStepView.as_view(), name="theft-loss-steps"),
    path("transfers/", api.TransferCreateView.as_view(), name="transfer-create"),
    path("transfers/<int:pk>/reverse/", api.TransferReverseView.as_view(), name="transfer-reverse"),
    path("administrations/", api.AdministrationCreateView.as_view(), name="administration-create"),
    path("ward-returns/", api.WardReturnListCreateView.as_view(), name="ward-return-list"),
    path("ward-assignments/", api.WardAssignmentCreateView.as_view(), name="ward-assignment-create"),
    path("wards/<str:code>/stock/", api.WardStockView.as_view(), name="ward-stock"),
    path("wards/<str:code>/movements/", api.WardMovementsView.as_view(), name="ward-movements"),
]
