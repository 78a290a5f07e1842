from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class Mt5SaasConfig(AppConfig):
    name = "mt5saas"
    verbose_name = "mt5saas"

    def ready(self) -> None:
        from . import schema  # noqa: F401 - registers the OpenAPI extensions


class OperatorAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with mt5saas.admin_site as its site (INSTALLED_APPS names it)."""

    default = False  # not the mt5saas app's own config
    default_site = "mt5saas.admin_site.OperatorAdminSite"
