from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Users and tokens"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from .signals import remember_sign_in_time

        user_logged_in.connect(remember_sign_in_time, dispatch_uid="accounts:signed_in_at")
