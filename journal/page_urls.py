from django.urls import path, re_path

from . import views

urlpatterns = [
    re_path(r"^journal/?$", views.journal_page, name="journal-page"),
    path("journal/<slug:part>", views.journal_part, name="journal-part"),
]
