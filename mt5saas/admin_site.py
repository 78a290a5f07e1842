"""The admin site: for operators (staff) only, and it tells anyone else so."""

from functools import update_wrapper

from django.contrib import admin
from django.views.decorators.cache import never_cache

from .views import not_an_operator


class OperatorAdminSite(admin.AdminSite):
    site_header = "mt5saas operations"
    site_title = "mt5saas operations"

    def admin_view(self, view, cacheable=False):
        guarded = super().admin_view(view, cacheable)

        def operators_only(request, *args, **kwargs):
            # Django's admin sends a signed-in non-operator to its sign-in page, which (like
            # /login) sends signed-in people back here: the browser looped until it gave up.
            if request.user.is_authenticated and not self.has_permission(request):
                return not_an_operator(request)
            return guarded(request, *args, **kwargs)

        return update_wrapper(never_cache(operators_only), guarded)
