"""A request that meets a database or Redis that is down is a 503, never a 500."""

import logging
from collections.abc import Callable

import redis
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

log = logging.getLogger(__name__)

RETRY_AFTER_S = 5
# Connection failures only: a programming error stays a 500 that someone must look at.
UNAVAILABLE = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)


class ServiceUnavailableMiddleware:
    """503 with Retry-After when a backing service is unreachable. Senders that resend on a
    5xx (TradingView, master EAs) then send again, which is right: what failed this way did
    not commit (work handed on after a commit never fails the request, see
    terminals.orders.queue.orders_enqueue), and signal ids and deal tickets make a resend of
    what did commit place nothing twice."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, UNAVAILABLE):
            return None
        # The route, not the path (a webhook path holds its token), and the error's class
        # only (its text can hold a connection string).
        route = getattr(request.resolver_match, "route", "") or "?"
        log.warning("%s %s: backing service unavailable (%s)", request.method, route, type(exception).__name__)
        response = JsonResponse({"detail": "The service is briefly unavailable; send the request again."}, status=503)
        response["Retry-After"] = str(RETRY_AFTER_S)
        return response
