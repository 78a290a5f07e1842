"""Project-level pages and the error handlers."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.templatetags.static import static


def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico on pages that name no icon (the admin, JSON answers)."""
    return redirect(static("mt5saas/favicon.svg"), permanent=True)


class OwnedObjectMixin(LoginRequiredMixin):
    """Page views about one of the user's rows: another user's id is a 404 like a missing one."""

    owned_model = None

    def get_queryset(self):
        return self.owned_model.objects.owned_by(self.request.user)

    def get_object(self):
        return get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith(("/api/", "/auth/", "/webhook", "/events")) or (
        "application/json" in request.headers.get("Accept", "")
    )


def error_page(request: HttpRequest, status: int, detail: str) -> HttpResponse:
    if _wants_json(request):
        return JsonResponse({"detail": detail}, status=status)
    return render(request, "error.html", {"status": status, "detail": detail}, status=status)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return error_page(request, 400, "Bad request.")


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return error_page(request, 403, "You do not have permission to do that.")


def not_an_operator(request: HttpRequest) -> HttpResponse:
    return error_page(request, 403, "Your account is not an operator account: the admin is for operators only.")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return error_page(request, 403, "This form has expired or came from another site. Reload the page and try again.")


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return error_page(request, 404, "Not found.")


def server_error(request: HttpRequest) -> HttpResponse:
    # Never a traceback; the log has it (redacted).
    return error_page(request, 500, "Something went wrong on our side. The error has been logged.")
