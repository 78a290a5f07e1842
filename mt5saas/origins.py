"""Which pages may open a WebSocket with the visitor's cookie: the origins a form may be posted
from (Django's CSRF rule: this site's own scheme, host and port, or CSRF_TRUSTED_ORIGINS).
A script without an Origin header authenticates with its API key (?token= or Authorization);
its cookie, if it sent one, is never read."""

import json
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host

REFUSED_CLOSE_CODE = 4403


def origin_allowed(origin: str, *, host: str, secure: bool) -> bool:
    """As CsrfViewMiddleware._origin_verified: scheme, host and port all count."""
    origin = origin.strip().lower()
    allowed_hosts = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    own_host = host.strip().lower()
    own_origin = f"{'https' if secure else 'http'}://{own_host}"
    if own_host and validate_host(split_domain_port(own_host)[0], allowed_hosts) and origin == own_origin:
        return True
    trusted = [entry.lower() for entry in settings.CSRF_TRUSTED_ORIGINS]
    if origin in trusted:
        return True
    try:
        scheme, netloc = urlsplit(origin)[:2]
    except ValueError:
        return False
    # "https://*.example.com" admits its subdomains on that scheme (as Django's CSRF check).
    return any(
        entry.startswith(f"{scheme}://*.") and is_same_domain(netloc, entry.split("://*", 1)[1])
        for entry in trusted
        if netloc
    )


def _secure(scope: dict, headers: dict[str, str]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy_header = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy_header:  # ("HTTP_X_FORWARDED_PROTO", "https"): only when BEHIND_PROXY says a proxy sets it
        name, value = proxy_header
        return headers.get(name.removeprefix("HTTP_").replace("_", "-").lower(), "").strip() == value
    return False


def refusal(scope: dict, headers: dict[str, str]) -> str | None:
    """Why the connection may not go on, or None; drops the cookie of a script without Origin."""
    if "origin" in headers:
        if origin_allowed(headers["origin"], host=headers.get("host", ""), secure=_secure(scope, headers)):
            return None
        return "This stream opens only from this site's pages (the Origin does not match)."
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    has_key = bool(headers.get("authorization", "").strip() or any(value for value in query.get("token", [])))
    scope["headers"] = [(name, value) for name, value in scope["headers"] if name != b"cookie"]
    if not has_key and "cookie" in headers:
        return "Without an Origin, send an API key (?token= or Authorization: Token); a cookie is not enough."
    return None


class OriginCheck:
    """ASGI middleware for the WebSocket routes: refusals are accepted, told why in a frame
    ({"type": "error", "detail"}) and closed with 4403, as the streams' own refusals are."""

    def __init__(self, application) -> None:
        self.application = application

    async def __call__(self, scope, receive, send):
        headers = {name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]}
        scope = {**scope, "headers": list(scope["headers"])}
        detail = refusal(scope, headers)
        if detail is None:
            return await self.application(scope, receive, send)
        message = await receive()
        if message["type"] != "websocket.connect":
            return None
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": json.dumps({"type": "error", "detail": detail})})
        await send({"type": "websocket.close", "code": REFUSED_CLOSE_CODE})
        return None
