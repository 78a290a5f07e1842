"""Sign-in pages and the seed's /auth/* JSON routes."""

from allauth.account.internal.flows.login import perform_password_login
from allauth.account.models import Login
from allauth.socialaccount.adapter import get_adapter as get_social_adapter
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema, inline_serializer
from knox.models import AuthToken
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from mt5saas.staff import staff_signin_fresh

from .selectors import time_zone_names, webhook_token_options, webhook_url
from .services import (
    TimeZoneUnknown,
    api_token_create,
    api_token_revoke,
    user_set_time_zone,
    webhook_token_reveal,
    webhook_token_rotate,
    webhook_token_set_options,
)


def google_configured(request: HttpRequest) -> bool:
    return bool(get_social_adapter().list_apps(request, provider="google"))


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"

    @property
    def redirect_authenticated_user(self) -> bool:
        # Staff sent here by the admin to sign in again get the form, not a redirect loop.
        user = self.request.user
        return not (user.is_authenticated and user.is_staff and not staff_signin_fresh(self.request))

    def post(self, request, *args, **kwargs):
        if not settings.PASSWORD_LOGIN:
            return render(request, "accounts/login.html", self.get_context_data(), status=403)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        # allauth's password sign-in rather than Django's login(): it records the step in the
        # session and runs allauth's stages, so a user with an authenticator is asked for its
        # code (allauth.mfa) before being signed in.
        login = Login(user=form.get_user(), redirect_url=self.get_success_url())
        return perform_password_login(self.request, {"username": form.get_user().get_username()}, login)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            google_enabled=google_configured(self.request),
            password_login=settings.PASSWORD_LOGIN,
            **kwargs,
        )


def locked_out(request: HttpRequest, response: HttpResponse | None, credentials: dict | None) -> HttpResponse:
    """django-axes' answer to a locked-out username or address (AXES_LOCKOUT_CALLABLE)."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = render(request, "accounts/locked.html", {"minutes": minutes}, status=429)
    response["Retry-After"] = str(minutes * 60)
    return response


class LogoutView(auth_views.LogoutView):
    next_page = "/login"


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    email = serializers.EmailField()
    name = serializers.CharField(source="display_name")
    picture_url = serializers.CharField()  # "" until Google gives one
    is_staff = serializers.BooleanField()


class AuthStatusView(APIView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "AuthStatus", {"authenticated": serializers.BooleanField(), "user": UserSerializer(allow_null=True)}
        )
    )
    def get(self, request):
        user = request.user
        return Response(
            {
                "authenticated": user.is_authenticated,
                "user": UserSerializer(user).data if user.is_authenticated else None,
            }
        )


class WebhookTokenSerializer(serializers.Serializer):
    webhook_url = serializers.CharField()
    token = serializers.CharField()


class WebhookTokenView(APIView):
    """The caller's webhook URL (issued on first use)."""

    @extend_schema(responses=WebhookTokenSerializer)
    def get(self, request):
        token = webhook_token_reveal(user=request.user)
        return Response({"webhook_url": webhook_url(token=token, request=request), "token": token})


class RotateWebhookTokenView(APIView):
    """A new webhook URL; the old one is refused from this moment on."""

    @extend_schema(request=None, responses=WebhookTokenSerializer)
    def post(self, request):
        token = webhook_token_rotate(user=request.user)
        return Response({"webhook_url": webhook_url(token=token, request=request), "token": token})


# --- Settings page actions (session, CSRF, htmx) ----------------------------------


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    token = webhook_token_reveal(user=request.user)
    return render(
        request,
        "accounts/settings.html",
        {
            "webhook_url": webhook_url(token=token, request=request),
            "api_tokens": AuthToken.objects.filter(user=request.user).order_by("-created"),
            "new_api_token": request.session.pop("new_api_token", None),
            "options": webhook_token_options(user=request.user),
            "time_zones": sorted(time_zone_names()),
            "zone_value": request.user.time_zone,
        },
    )


@login_required
@require_POST
def set_time_zone(request: HttpRequest) -> HttpResponse:
    try:
        user_set_time_zone(user=request.user, name=request.POST.get("time_zone", ""))
    except TimeZoneUnknown as error:
        # The form alone: the settings page would show the webhook URL in an error answer.
        context = {"time_zones": sorted(time_zone_names()), "zone_value": request.POST.get("time_zone", "")[:64],
                   "zone_error": str(error)}  # fmt: skip
        return render(request, "accounts/time_zone.html", context, status=400)
    messages.success(request, f"Times are shown in {request.user.time_zone}.")
    return redirect("/settings")


@login_required
@require_POST
def rotate_webhook_token(request: HttpRequest) -> HttpResponse:
    token = webhook_token_rotate(user=request.user)
    url = webhook_url(token=token, request=request)
    if request.htmx:
        return render(request, "accounts/_webhook_url.html", {"webhook_url": url, "rotated": True})
    messages.success(request, "New webhook URL issued. The old one no longer works.")
    return redirect(request.POST.get("next") if request.POST.get("next") == "/settings" else "/")


@login_required
@require_POST
def webhook_options(request: HttpRequest) -> HttpResponse:
    webhook_token_set_options(
        user=request.user,
        dedupe_identical_bodies="dedupe_identical_bodies" in request.POST,
        tradingview_only="tradingview_only" in request.POST,
    )
    messages.success(request, "Webhook options saved.")
    return redirect("/settings")


@login_required
@require_POST
def create_api_token(request: HttpRequest) -> HttpResponse:
    # Kept in the session for one page view only: it is shown once, then never again.
    request.session["new_api_token"] = api_token_create(user=request.user)
    return redirect("/settings")


@login_required
@require_POST
def revoke_api_token(request: HttpRequest, token_key: str) -> HttpResponse:
    if not api_token_revoke(user=request.user, token_key=token_key):
        raise Http404("No such API key.")
    messages.success(request, "API key revoked.")
    return redirect("/settings")
