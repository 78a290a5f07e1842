from django.apps import AppConfig


class Mt5SaasConfig(AppConfig):
    name = "mt5saas"
    verbose_name = "mt5saas"
