"""The admin site: for operators (staff) only, and it tells anyone else so."""

from functools import update_wrapper

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.views.decorators.cache import never_cache

from .overview import WINDOWS, overview_figures
from .views import error_page, not_an_operator


class OperatorAdminSite(admin.AdminSite):
    site_header = "mt5saas operations"
    site_title = "mt5saas operations"
    index_template = "admin/operator_index.html"

    def get_urls(self):
        return [path("overview/", self.admin_view(self.overview), name="overview"), *super().get_urls()]

    def overview(self, request: HttpRequest) -> HttpResponse:
        """Orders per minute, fill rate, refusals and errors by reason, latency, hosts, accounts."""
        window = request.GET.get("window", "1h")
        if window not in WINDOWS:
            return error_page(request, 400, f"The window must be one of {', '.join(WINDOWS)}.")
        context = {
            **self.each_context(request),
            "title": "Operations overview",
            "window": window,
            "windows": list(WINDOWS),
            "figures": overview_figures(window=window),
        }
        return TemplateResponse(request, "admin/overview.html", context)

    def admin_view(self, view, cacheable=False):
        guarded = super().admin_view(view, cacheable)

        def operators_only(request, *args, **kwargs):
            # Django's admin sends a signed-in non-operator to its sign-in page, which (like
            # /login) sends signed-in people back here: the browser looped until it gave up.
            if request.user.is_authenticated and not self.has_permission(request):
                return not_an_operator(request)
            return guarded(request, *args, **kwargs)

        return update_wrapper(never_cache(operators_only), guarded)
