from django.urls import path, re_path

from . import views

urlpatterns = [
    re_path(r"^events/?$", views.events, name="events"),
    path("events/copy-trades", views.copy_trade_events, name="events-copy-trades"),
]
