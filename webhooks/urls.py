from django.urls import path

from . import views

urlpatterns = [
    path("history", views.history, name="history-page"),
    path("history/clear", views.history_clear, name="history-clear"),
    path("signals/test", views.test_signal, name="test-signal"),
    path("webhook/", views.receive, name="webhook-body-token"),
    path("webhook", views.receive),
    path("webhook/<str:token>", views.receive, name="webhook"),
]
