"""Who is on the other end of a request, for rate limits, lockouts and the audit trail."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The sender's address: REMOTE_ADDR, or what a trusted proxy says it saw."""
    address = request.META.get("REMOTE_ADDR", "")
    if address in settings.TRUSTED_PROXIES:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        # The last hop not added by one of our proxies is the one nobody could forge.
        for hop in reversed(hops):
            if hop not in settings.TRUSTED_PROXIES:
                return hop
    return address
