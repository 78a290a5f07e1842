from allauth.account import admin as email_admin
from allauth.account.models import EmailAddress
from allauth.mfa import admin as mfa_admin
from allauth.mfa.models import Authenticator
from allauth.socialaccount import admin as social_admin
from allauth.socialaccount.models import SocialAccount, SocialToken
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from knox.models import AuthToken

from audit.admin import TraderDataAdmin

from .models import User, WebhookToken
from .services import CannotChangeSuperuser, CannotDisableSelf, user_set_active, webhook_token_rotate


@admin.register(User)
class UserAdmin(TraderDataAdmin, DjangoUserAdmin):
    list_display = ["username", "email", "name", "is_active", "is_staff", "date_joined", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "date_joined", "last_login"]
    search_fields = ["username", "email", "name"]
    ordering = ["-date_joined"]
    actions = ["enable_users", "disable_users"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = [
        (None, {"fields": ["username", "password"]}),
        ("Profile", {"fields": ["name", "email", "picture_url"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [(None, {"classes": ["wide"], "fields": ["username", "email", "password1", "password2"]})]

    # Only a superuser changes a superuser or makes one: change_user alone must not reach root.
    def has_change_permission(self, request, obj=None) -> bool:
        return super().has_change_permission(request, obj) and not self._superuser_guarded(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return super().has_delete_permission(request, obj) and not self._superuser_guarded(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        return readonly if request.user.is_superuser else [*readonly, "is_superuser"]

    @staticmethod
    def _superuser_guarded(request, obj) -> bool:
        return obj is not None and obj.is_superuser and not request.user.is_superuser

    @admin.action(description="Enable selected users")
    def enable_users(self, request, queryset) -> None:
        self.message_user(request, f"Enabled {self._set_active(request, queryset, True)} user(s).")

    @admin.action(description="Disable selected users (sign-in, webhook and API refused)")
    def disable_users(self, request, queryset) -> None:
        self.message_user(request, f"Disabled {self._set_active(request, queryset, False)} user(s).")

    def _set_active(self, request, queryset, active: bool) -> int:
        done = 0
        for user in queryset:
            try:
                user_set_active(user=user, active=active, by=request.user)
                done += 1
            except (CannotDisableSelf, CannotChangeSuperuser) as exc:
                self.message_user(request, f"{user}: {exc}", messages.WARNING)
        return done


class NoAddMixin:
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookToken)
class WebhookTokenAdmin(NoAddMixin, TraderDataAdmin):
    # Digest and ciphertext are never shown: the hint is enough to tell tokens apart.
    list_display = ["owner", "masked", "created_at", "rotated_at"]
    list_select_related = ["owner"]
    fields = ["owner", "masked", "created_at", "rotated_at"]
    readonly_fields = fields
    search_fields = ["owner__username", "owner__email"]
    actions = ["rotate"]

    @admin.display(description="token")
    def masked(self, obj: WebhookToken) -> str:
        return f"{obj.hint}…"

    @admin.action(description="Rotate selected tokens (old URLs stop working)")
    def rotate(self, request, queryset) -> None:
        for row in queryset.select_related("owner"):
            webhook_token_rotate(user=row.owner)
        self.message_user(request, f"Rotated {queryset.count()} token(s); owners see the new URL on their dashboard.")


# knox's own admin lists digests and offers adding keys that it prints in a message.
admin.site.unregister(AuthToken)


@admin.register(AuthToken)
class ApiTokenAdmin(NoAddMixin, TraderDataAdmin):
    list_display = ["user", "masked", "created", "expiry"]
    list_select_related = ["user"]
    fields = ["user", "masked", "created", "expiry"]
    readonly_fields = fields
    search_fields = ["user__username", "user__email"]

    @admin.display(description="key")
    def masked(self, obj: AuthToken) -> str:
        return f"{obj.token_key[:8]}…"


# allauth's admins of traders' addresses and Google identities, with every view recorded.
admin.site.unregister([EmailAddress, SocialAccount])


@admin.register(EmailAddress)
class EmailAddressAdmin(TraderDataAdmin, email_admin.EmailAddressAdmin):
    list_select_related = ["user"]


@admin.register(SocialAccount)
class SocialAccountAdmin(TraderDataAdmin, social_admin.SocialAccountAdmin):
    list_select_related = ["user"]


# Provider tokens are not stored (SOCIALACCOUNT_STORE_TOKENS), and allauth's page would show
# the first 40 characters of one.
admin.site.unregister(SocialToken)


# allauth.mfa's authenticators, with every view recorded. Their data (a TOTP secret, a recovery
# seed, both encrypted) is never shown; deleting one is how an operator resets a trader's
# second factor after a lost phone and lost recovery codes.
admin.site.unregister(Authenticator)


@admin.register(Authenticator)
class AuthenticatorAdmin(TraderDataAdmin, mfa_admin.AuthenticatorAdmin):
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    exclude = ["data"]
    readonly_fields = ["user", "type", "created_at", "last_used_at"]

    def has_add_permission(self, request) -> bool:
        return False  # enrolment is the trader's own, in allauth's pages
