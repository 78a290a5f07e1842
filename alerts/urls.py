from django.urls import path

from . import views

urlpatterns = [
    path("alerts", views.alerts_page, name="alerts-page"),
    path("alerts/preferences", views.preferences_save, name="alerts-preferences"),
    path("alerts/endpoints", views.endpoint_create, name="alerts-endpoint-create"),
    path("alerts/endpoints/<int:pk>/<slug:action>", views.EndpointAction.as_view(), name="alerts-endpoint-action"),
    path("alerts/price", views.price_alert_create, name="alerts-price-create"),
    path("alerts/price/<int:pk>/<slug:action>", views.PriceAlertAction.as_view(), name="alerts-price-action"),
    path("alerts/deliveries/<int:pk>/retry", views.DeliveryRetry.as_view(), name="alerts-delivery-retry"),
]
