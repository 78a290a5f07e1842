from django.apps import AppConfig


class Mt5SaasConfig(AppConfig):
    name = "mt5saas"
    verbose_name = "mt5saas"

    def ready(self) -> None:
        from . import schema  # noqa: F401 - registers the OpenAPI extensions
