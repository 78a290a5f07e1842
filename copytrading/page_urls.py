from django.urls import path

from . import views

urlpatterns = [
    path("copy", views.copy_page, name="copy-page"),
    path("copy/history", views.history_page, name="copy-history-page"),
    path("copy/pairs/<int:pk>/<slug:action>", views.PairAction.as_view(), name="copy-pair-action"),
]
