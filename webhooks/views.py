"""POST /webhook/<token> (docs/webhook.md): authentication, limits and parsing of TradingView alerts."""

import hashlib
import json
import math
import weakref

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from django_ratelimit.core import get_usage

from accounts.selectors import webhook_token_options
from accounts.services import webhook_token_user
from mt5saas.events import HeldEvents, events_held
from mt5saas.jsontext import unstorable_text
from mt5saas.net import client_ip
from terminals.models import Order, TradingAccount
from terminals.selectors import account_list

from .answers import Answer, accepted_answer, error_answer
from .errors import SignalBusy, SignalError, SignalRefused
from .models import Signal
from .refused import refused_text
from .selectors import history_items, history_list
from .services import history_hide, signal_receive, signal_refuse


class WebhookError(Exception):
    def __init__(self, status: int, detail: str, **extra) -> None:
        super().__init__(detail)
        self.status, self.detail, self.extra = status, detail, extra

    def response(self) -> JsonResponse:
        response = JsonResponse({"detail": self.detail, **self.extra}, status=self.status)
        if "retry_after" in self.extra:
            response["Retry-After"] = str(self.extra["retry_after"])
        if self.status == 405:
            response["Allow"] = "POST"
        return response


def _read_body(request: HttpRequest) -> bytes:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise WebhookError(400, "Content-Length is not a number.") from None
    if declared > limit:
        raise WebhookError(413, f"The body is larger than {limit} bytes.")
    body = request.read(limit + 1)
    if len(body) > limit:
        raise WebhookError(413, f"The body is larger than {limit} bytes.")
    return body


def _parse(body: bytes) -> dict:
    # TradingView sends its alert message as text/plain, so the content type is not trusted.
    try:
        payload = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise WebhookError(400, "The body is not UTF-8 text.") from None
    except (RecursionError, ValueError) as exc:
        if not isinstance(exc, json.JSONDecodeError):
            # Nesting deeper than the parser allows, or an integer of thousands of digits.
            raise WebhookError(400, "The body is not valid JSON: too deeply nested or a number too large.") from None
        where = f"line {exc.lineno} column {exc.colno}"
        raise WebhookError(400, f"The body is not valid JSON: {exc.msg} at {where}.") from None
    if not isinstance(payload, dict):
        raise WebhookError(400, "The body must be a JSON object.")
    if (problem := unstorable_text(payload)) is not None:
        raise WebhookError(400, problem)
    return payload


def _check_rate(request: HttpRequest, user_id: int) -> None:
    usage = get_usage(
        request,
        group="webhook",
        key=lambda group, request: str(user_id),
        rate=settings.WEBHOOK_RATE_LIMIT,
        increment=True,
    )
    if usage and usage["should_limit"]:
        raise WebhookError(
            429,
            f"Rate limit of {settings.WEBHOOK_RATE_LIMIT} reached for this webhook.",
            retry_after=max(1, math.ceil(usage["time_left"])),
        )


def _authenticate(token: object) -> int:
    user = webhook_token_user(token=token) if isinstance(token, str) else None
    if user is None:
        # 404 for unknown and rotated alike: nothing tells a guesser which it was.
        raise WebhookError(404, "Unknown webhook token.")
    if not user.is_active:
        raise WebhookError(403, "This user is disabled.")
    return user


RESEND_WINDOW_S = 10


def _receive(user, payload: dict) -> Answer:
    try:
        return accepted_answer(signal_receive(user=user, data=payload))
    except SignalError as error:
        return error_answer(error)


def _receive_once(user, body: bytes, payload: dict) -> Answer:
    """TradingView resends a body after a 5xx or a timeout: the same bytes within 10 s get
    the first reply and place nothing."""
    key = f"webhook:resend:{user.pk}:{hashlib.sha256(body).hexdigest()}"
    if not cache.add(key, "pending", RESEND_WINDOW_S):
        first = cache.get(key)
        if isinstance(first, list):
            return first[0], first[1]
        return error_answer(SignalBusy("The same alert is being placed right now."))
    status, reply = _receive(user, payload)
    cache.set(key, [status, reply], RESEND_WINDOW_S)
    return status, reply


def _admit(request: HttpRequest, user) -> object:
    """The token's options, once its sender and its rate limit allow the request (else WebhookError)."""
    options = webhook_token_options(user=user)
    if options and options.tradingview_only and client_ip(request) not in settings.TRADINGVIEW_IPS:
        raise WebhookError(403, "This webhook accepts alerts from TradingView's addresses only.")
    _check_rate(request, user.pk)
    return options


def _refuse_unreadable(request: HttpRequest, user, body: bytes | None, refusal: WebhookError) -> None:
    """A body refused before it was read as an alert (too large, not a JSON object), sent to a
    token in the URL: kept in the trader's history like any refused alert, once the sender and
    the rate limit let it through (their answer wins). Without a valid token it is not kept."""
    if user is None or not user.is_active:
        return
    _admit(request, user)
    signal_refuse(
        user=user,
        source=Signal.Source.WEBHOOK,
        refusal=SignalRefused(refusal.detail, {"body": [refusal.detail]}),
        answer=(refusal.status, {"detail": refusal.detail, **refusal.extra}),
        payload=refused_text(body) if body is not None else {},
    )


@csrf_exempt
def receive(request: HttpRequest, token: str = "") -> JsonResponse:
    try:
        if request.method != "POST":
            raise WebhookError(405, "Send alerts with POST.")
        body = user = None
        try:
            body = _read_body(request)
            user = _authenticate(token) if token else None
            payload = _parse(body)
        except WebhookError as refusal:
            if token and refusal.status in (400, 413):
                _refuse_unreadable(request, user or webhook_token_user(token=token), body, refusal)
            raise
        user = user or _authenticate(payload.get("token"))
        options = _admit(request, user)
        with events_held() as held:
            if options and options.dedupe_identical_bodies and "id" not in payload:
                status, reply = _receive_once(user, body, payload)
            else:
                status, reply = _receive(user, payload)
        return HeldReply(reply, status=status, held=held)
    except WebhookError as error:
        return error.response()


class HeldReply(JsonResponse):
    """The webhook's reply; the signal's live events are sent once it has been written."""

    def __init__(self, data: dict, *, status: int, held: HeldEvents) -> None:
        super().__init__(data, status=status)
        self._held = held
        # A reply never written (the client went away) releases them when it is dropped.
        weakref.finalize(self, held.release)

    def close(self) -> None:
        try:
            super().close()  # the server calls close() after the last byte is sent
        finally:
            self._held.release()


# --- Pages: history and the test-signal form -----------------------------------------


class HistoryFilterForm(forms.Form):
    account = forms.ModelChoiceField(queryset=TradingAccount.objects.none(), required=False)
    status = forms.ChoiceField(
        choices=[("", "any status"), *Order.Status.choices, (Signal.Status.REFUSED, "refused alert")], required=False
    )
    source = forms.ChoiceField(choices=[("", "any source"), *Order.Source.choices], required=False)
    symbol = forms.CharField(max_length=40, required=False)
    since = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    until = forms.DateTimeField(required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = account_list(user=user)


@login_required
def history(request: HttpRequest) -> HttpResponse:
    form = HistoryFilterForm(request.GET or None, user=request.user)
    filters = {name: value for name, value in form.cleaned_data.items() if value} if form.is_valid() else {}
    page = Paginator(history_list(user=request.user, filters=filters), 50).get_page(request.GET.get("page"))
    filters = request.GET.copy()
    filters.pop("page", None)
    context = {"form": form, "page": page, "rows": history_items(page), "query": request.GET.urlencode(),
               "filters": filters.urlencode()}  # fmt: skip
    template = "webhooks/_history_rows.html" if request.htmx else "webhooks/history.html"
    return render(request, template, context)


@login_required
@require_POST
def history_clear(request: HttpRequest) -> HttpResponse:
    hidden, refused = history_hide(user=request.user)
    cleared = f"{hidden} order(s)" + (f" and {refused} refused alert(s)" if refused else "")
    messages.success(request, f"Cleared {cleared} from the history; they are kept for the audit.")
    return redirect("/history")


@login_required
@require_POST
def test_signal(request: HttpRequest) -> HttpResponse:
    """The dashboard's "send a test signal" form: the same pipeline as TradingView."""
    try:
        data = json.loads(request.POST.get("body", ""))
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        messages.error(request, "The test signal is not a JSON object.")
        return redirect("/")
    if (problem := unstorable_text(data)) is not None:
        messages.error(request, problem)
        return redirect("/")
    try:
        accepted = signal_receive(user=request.user, data=data, source=Signal.Source.MANUAL)
    except SignalError as error:
        errors = error.errors if isinstance(error, SignalRefused) else {}
        messages.error(request, f"{error.detail} {json.dumps(errors)}")
        return redirect("/")
    messages.success(request, f"Signal {accepted.signal_id} accepted: {len(accepted.orders)} order(s) queued.")
    return redirect("/history")
