"""The Alerts page: where each kind of alert goes, webhook endpoints, price alerts, the delivery log."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views import View
from django.views.decorators.http import require_POST

from mt5saas.forms import id_param
from mt5saas.views import OwnedObjectMixin

from . import selectors, services
from .forms import EndpointForm, PriceAlertForm
from .models import TRADER_KINDS, Delivery, Endpoint, PriceAlert
from .services import AlertsError

SHOWN_SECRET = "alerts.shown_secret"  # session: a signing secret shown once on the next page view
LOG_FILTERS = tuple(Delivery.Status.values)


def _page(request: HttpRequest, *, endpoint_form=None, price_form=None, status: int = 200) -> HttpResponse:
    user = request.user
    preferences = selectors.preference_map(user=user)
    endpoints = list(selectors.endpoint_list(user=user))
    rows = []
    for kind in TRADER_KINDS:
        preference = preferences.get(kind)
        chosen = {e.pk for e in preference.endpoints.all()} if preference else set()
        rows.append({"kind": kind, "label": kind.label, "in_app": preference and preference.in_app,
                     "email": preference and preference.email, "endpoints": chosen})  # fmt: skip
    log_filter = request.GET.get("status")
    log_filter = log_filter if log_filter in LOG_FILTERS else None
    context = {
        "rows": rows,
        "endpoints": endpoints,
        "shown_secret": request.session.pop(SHOWN_SECRET, None),
        "endpoint_form": endpoint_form or EndpointForm(),
        "price_form": price_form or PriceAlertForm(accounts=selectors.alertable_accounts(user=user)),
        "price_alerts": selectors.price_alert_list(user=user)[:200],
        "alerts": selectors.alert_list(user=user)[:50],
        "deliveries": selectors.delivery_list(user=user, status=log_filter)[:100],
        "log_filter": log_filter,
        "log_filters": Delivery.Status.choices,
        "has_email": bool(user.email),
    }
    return render(request, "alerts/alerts.html", context, status=status)


@login_required
def alerts_page(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def preferences_save(request: HttpRequest) -> HttpResponse:
    choices = {}
    for kind in TRADER_KINDS:
        endpoints = [pk for v in request.POST.getlist(f"{kind}-endpoints") if (pk := id_param(v)) is not None]
        choices[kind] = {"in_app": f"{kind}-in_app" in request.POST, "email": f"{kind}-email" in request.POST,
                         "endpoints": endpoints}  # fmt: skip
    services.preferences_save(owner=request.user, choices=choices)
    messages.success(request, "Alert preferences saved.")
    return redirect("/alerts")


@login_required
@require_POST
def endpoint_create(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST)
    if not form.is_valid():
        return _page(request, endpoint_form=form, status=400)
    try:
        endpoint, secret = services.endpoint_create(owner=request.user, **form.cleaned_data)
    except AlertsError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _page(request, endpoint_form=form, status=400)
    request.session[SHOWN_SECRET] = {"endpoint": endpoint.name, "secret": secret}
    messages.success(request, f"Webhook {endpoint.name} added. Copy its signing secret now: it is shown once.")
    return redirect("/alerts")


@login_required
@require_POST
def price_alert_create(request: HttpRequest) -> HttpResponse:
    form = PriceAlertForm(request.POST, accounts=selectors.alertable_accounts(user=request.user))
    if not form.is_valid():
        return _page(request, price_form=form, status=400)
    try:
        services.price_alert_create(owner=request.user, **form.cleaned_data)
    except AlertsError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return _page(request, price_form=form, status=400)
    messages.success(request, "Price alert created. Choose where price alerts go in the table above.")
    return redirect("/alerts")


class EndpointAction(OwnedObjectMixin, View):
    owned_model = Endpoint

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        endpoint = self.get_object()
        if action == "rotate-secret":
            secret = services.endpoint_rotate_secret(endpoint=endpoint)
            request.session[SHOWN_SECRET] = {"endpoint": endpoint.name, "secret": secret}
            messages.success(request, "New signing secret issued; the old one no longer signs.")
        elif action == "toggle":
            services.endpoint_toggle(endpoint=endpoint)
        elif action == "delete":
            services.endpoint_delete(endpoint=endpoint)
            messages.success(request, "Webhook deleted; its log rows are kept.")
        else:
            messages.error(request, "Unknown action.")
        return redirect("/alerts")


class PriceAlertAction(OwnedObjectMixin, View):
    owned_model = PriceAlert

    def post(self, request: HttpRequest, pk: int, action: str) -> HttpResponse:
        alert = self.get_object()
        if action == "toggle":
            services.price_alert_toggle(alert=alert)
        elif action == "delete":
            services.price_alert_delete(alert=alert)
        else:
            messages.error(request, "Unknown action.")
        return redirect("/alerts")


class DeliveryRetry(OwnedObjectMixin, View):
    owned_model = Delivery

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        try:
            services.delivery_retry(delivery=self.get_object())
            messages.success(request, "Delivery queued again.")
        except AlertsError as error:
            messages.error(request, error.message)
        return redirect("/alerts#log")
