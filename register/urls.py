from django.urls import path

from register import api

urlpatterns = [
    path("products/", api.ProductListView.as_view(), name="product-list"),
    path("lots/", api.LotListCreateView.as_view(), name="lot-list"),
    path("stock/", api.StockListView.as_view(), name="stock-list"),
    path("movements/", api.MovementListCreateView.as_view(), name="movement-list"),
    path("movements/<int:pk>/", api.MovementDetailView.as_view(), name="movement-detail"),
    path("movements/<int:pk>/reverse/", api.MovementReverseView.as_view(), name="movement-reverse"),
    path("register/verify/", api.RegisterVerifyView.as_view(), name="register-verify"),
]
