from django.urls import path

from . import views

urlpatterns = [
    path("webhook/", views.receive, name="webhook-body-token"),
    path("webhook", views.receive),
    path("webhook/<str:token>", views.receive, name="webhook"),
]
