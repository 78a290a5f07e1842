from django.http import HttpRequest, HttpResponse

from .context import Origin, current


class AuditContextMiddleware:
    """Makes the request the origin of any audited change made while serving it.

    The user is read when a change is recorded, not here: DRF authenticates API
    tokens inside the view and sets it on the request then.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        reset = current.set(Origin(request=request))
        try:
            return self.get_response(request)
        finally:
            current.reset(reset)
