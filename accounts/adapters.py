from allauth.account.adapter import DefaultAccountAdapter
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter

from .services import user_sync_profile


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request) -> bool:
        # Traders arrive through Google; local users are made by operators or `demo`.
        return False


class SocialAccountAdapter(DefaultSocialAccountAdapter):
    def is_open_for_signup(self, request, sociallogin) -> bool:
        return True

    def populate_user(self, request, sociallogin, data):
        user = super().populate_user(request, sociallogin, data)
        extra = sociallogin.account.extra_data
        user.name = extra.get("name") or " ".join(filter(None, [data.get("first_name"), data.get("last_name")]))
        user.picture_url = extra.get("picture", "")
        return user

    def save_user(self, request, sociallogin, form=None):
        user = super().save_user(request, sociallogin, form)
        self._profile_sync(user, sociallogin)
        return user

    def pre_social_login(self, request, sociallogin) -> None:
        # Every sign-in of a known user refreshes name and picture.
        if sociallogin.is_existing:
            self._profile_sync(sociallogin.user, sociallogin)

    @staticmethod
    def _profile_sync(user, sociallogin) -> None:
        extra = sociallogin.account.extra_data
        user_sync_profile(
            user=user,
            name=extra.get("name", ""),
            picture_url=extra.get("picture", ""),
            email=extra.get("email", user.email) if extra.get("email_verified", True) else "",
        )
