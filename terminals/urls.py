from django.urls import path

from . import views

urlpatterns = [
    path("accounts", views.AccountsPage.as_view(), name="accounts-page"),
    path("accounts/table", views.AccountsTable.as_view(), name="accounts-table"),
    path("accounts/<int:pk>", views.AccountPage.as_view(), name="account-page"),
    path("accounts/<int:pk>/limits", views.AccountLimits.as_view(), name="account-limits"),
    path("accounts/<int:pk>/mappings", views.MappingAdd.as_view(), name="account-mapping-add"),
    path("accounts/mappings/<int:pk>/delete", views.MappingDelete.as_view(), name="account-mapping-delete"),
    path("accounts/<int:pk>/<slug:action>", views.AccountAction.as_view(), name="account-action"),
]
