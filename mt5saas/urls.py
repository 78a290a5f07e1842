from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import api as accounts_api
from accounts import views as accounts_views
from alerts import api as alerts_api
from journal import api as journal_api
from terminals import api as terminals_api
from terminals import orders_api as terminals_orders_api
from terminals import pool as terminals_pool
from webhooks import api as webhooks_api

from . import dashboard, views
from .api import OptionalSlashRouter
from .health import health

admin_router = OptionalSlashRouter()
admin_router.register("users", accounts_api.AdminUserViewSet, basename="admin-user")
admin_router.register("hosts", terminals_api.HostViewSet, basename="admin-host")
admin_router.register("assignments", terminals_api.AssignmentViewSet, basename="admin-assignment")
api_router = OptionalSlashRouter()
api_router.register("accounts", terminals_api.AccountViewSet, basename="account")
api_router.register("symbol-mappings", terminals_api.SymbolMappingViewSet, basename="symbol-mapping")
api_router.register("signals", webhooks_api.SignalViewSet, basename="signal")
api_router.register("alerts", alerts_api.AlertViewSet, basename="alert")
api_router.register("alert-deliveries", alerts_api.DeliveryViewSet, basename="alert-delivery")
api_router.register("deals", journal_api.DealViewSet, basename="deal")
api_router.register("trades", journal_api.TradeViewSet, basename="trade")


class OrderViewSet(webhooks_api.OrderPlacing, terminals_orders_api.OrderViewSet):
    """History of orders (filter by signal, account, status, source, symbol, since/until);
    POST places an order through the same pipeline as a webhook; DELETE clears the list
    shown (the rows stay for the audit)."""

    # Terminals serves the orders; webhooks places one, through the signal pipeline it owns.
    http_method_names = ["get", "post", "delete"]


# Orders by hand: DELETE on the list clears it, which a router does not route.
order_list = OrderViewSet.as_view({"get": "list", "post": "create", "delete": "clear"})
order_detail = OrderViewSet.as_view({"get": "retrieve"})

# One sign-in page for everyone: the admin's and allauth's own password forms would
# bypass PASSWORD_LOGIN, so they send people to /login.
to_login = RedirectView.as_view(url="/login", query_string=True)

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("", include("terminals.urls")),
    path("", include("copytrading.page_urls")),
    path("", include("journal.page_urls")),
    path("", include("alerts.urls")),
    path("settings", accounts_views.settings_page, name="settings-page"),
    path("settings/webhook-token/rotate", accounts_views.rotate_webhook_token, name="settings-rotate-webhook"),
    path("settings/api-tokens", accounts_views.create_api_token, name="settings-create-api-token"),
    path("settings/webhook-options", accounts_views.webhook_options, name="settings-webhook-options"),
    path("settings/time-zone", accounts_views.set_time_zone, name="settings-time-zone"),
    path(
        "settings/api-tokens/<str:token_key>/revoke",
        accounts_views.revoke_api_token,
        name="settings-revoke-api-token",
    ),
    path("login", accounts_views.LoginView.as_view(), name="login"),
    path("logout", accounts_views.LogoutView.as_view(), name="logout"),
    re_path(r"^auth/status/?$", accounts_views.AuthStatusView.as_view(), name="auth-status"),
    re_path(r"^auth/webhook-token/?$", accounts_views.WebhookTokenView.as_view(), name="auth-webhook-token"),
    re_path(r"^auth/rotate-token/?$", accounts_views.RotateWebhookTokenView.as_view(), name="auth-rotate-token"),
    path("oauth/login/", to_login),
    path("oauth/signup/", to_login),
    path("oauth/", include("allauth.urls")),
    path("admin/login/", to_login),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    re_path(r"^api/admin/stats/?$", accounts_api.AdminStatsView.as_view(), name="admin-stats"),
    re_path(r"^api/admin/pool-agents/?$", terminals_pool.PoolAgentsView.as_view(), name="admin-pool-agents"),
    re_path(r"^api/user/accounts/?$", terminals_pool.UserAccountsView.as_view(), name="user-accounts"),
    path("api/admin/", include(admin_router.urls)),
    re_path(r"^api/v1/orders/?$", order_list, name="order-list"),
    re_path(r"^api/v1/orders/(?P<pk>[0-9]+)/?$", order_detail, name="order-detail"),
    re_path(r"^api/v1/stats/?$", journal_api.StatsView.as_view(), name="journal-stats"),
    re_path(r"^api/v1/accounts/(?P<pk>[0-9]+)/equity/?$", journal_api.EquityView.as_view(), name="account-equity"),
    path("api/v1/", include(api_router.urls)),
    path("api/copy/", include("copytrading.urls")),
    path("favicon.ico", views.favicon, name="favicon"),
    path("health", health, name="health"),
    path("webhook/health", health, name="webhook-health"),
    path("", include("webhooks.urls")),
    path("", include("live.urls")),
]

handler400 = "mt5saas.views.bad_request"
handler403 = "mt5saas.views.permission_denied"
handler404 = "mt5saas.views.page_not_found"
handler500 = "mt5saas.views.server_error"
