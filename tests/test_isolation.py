"""Tenant isolation over every routed path.

The test walks Django's URL resolver and the WebSocket routes. Each route is probed by
its kind: a trader (bob) must never read or change what belongs to another trader
(alice). Owned API viewsets and staff-only views are recognised by what they are, so a
new one is covered as soon as it is routed; any other route must be named in ROUTES,
and an unnamed one fails the test until someone decides how to probe it.
"""

import json
import re
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from knox.models import AuthToken

from accounts.services import api_token_create, webhook_token_reveal
from mt5saas.api import IsStaff
from mt5saas.models import OwnedQuerySet
from mt5saas.routing import websocket_urlpatterns
from tests.alerts.factories import ALERTS_FACTORIES
from tests.factories import OWNED_FACTORIES, UserFactory
from tests.live.factories import LIVE_FACTORIES

# Route key (URL name, or the route text for unnamed ones) → kind of probe.
#   public:  anyone may call it; it shows nobody's data
#   health:  public, and 503 is part of its contract (the failing part is named)
#   own:     acts on the caller only; anonymous callers are sent to sign in
#   secret:  the path carries the credential (webhook token); a guessed one is a 404
#   foreign: the path names one of the caller's rows by a key; another's key is a 404
# Owned API viewsets and page views with an `owned_model` (OwnedObjectMixin) are probed
# with alice's row id without being listed here.
ROUTES: dict[str, str] = {
    "dashboard": "own",
    "accounts-page": "own",
    "accounts-table": "own",
    "history-clear": "own",
    "test-signal": "own",
    "copy-page": "own",
    "copy-history-page": "own",
    # The master EA's intake: its key is the credential (a wrong one is a 401); what a key
    # of one trader can reach is proven in tests/copytrading/test_copy_api.py.
    "copy-trade": "public",
    "history-page": "own",
    "journal-page": "own",
    "journal-part": "own",
    "alerts-page": "own",
    "alerts-preferences": "own",
    "alerts-endpoint-create": "own",
    "alerts-price-create": "own",
    "settings-page": "own",
    "settings-rotate-webhook": "own",
    "settings-create-api-token": "own",
    "settings-webhook-options": "own",
    "settings-time-zone": "own",
    "settings-revoke-api-token": "foreign",
    "login": "public",
    "logout": "own",
    "auth-status": "public",
    "auth-webhook-token": "own",
    "auth-rotate-token": "own",
    "schema": "public",
    "api-docs": "public",
    "health": "health",
    "webhook-health": "health",
    "webhook-body-token": "secret",
    "webhook": "secret",
    "route:webhook": "secret",
    "route:oauth/login/": "public",
    "route:oauth/signup/": "public",
    "route:admin/login/": "public",
    "favicon": "public",
    # Streams of the caller's own events (tests/live proves no other user's event reaches them).
    "events": "own",
    "events-copy-trades": "own",
}
# The live and alerts apps' tables are owned too; their factories live with their tests.
FACTORIES = {**OWNED_FACTORIES, **LIVE_FACTORIES, **ALERTS_FACTORIES}

# Kinds decided by the view's home: allauth's sign-in flows and Django's admin.
MODULE_KINDS = {"allauth.": "public", "namespace:admin": "admin"}
WEBSOCKET_ROUTES: dict[str, str] = {"^ws/events/?$": "own"}  # probed in tests/live/test_websocket.py
LIST_KEYS = ("results", "accounts")


@dataclass
class Route:
    path_template: str
    key: str
    callback: Any
    origin: str  # the module of the URLconf that routes it (third-party includes)

    def path(self, values: dict[str, str]) -> str:
        text = self.path_template
        text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: values.get(m[1], "1"), text)
        text = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m[1], "1"), text)
        text = text.replace("^", "").replace("$", "").replace("/?", "/").replace(r"\.", ".")
        text = text.replace(".*", "x")
        return "/" + text


def _walk(patterns, prefix: str = "", origin: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            included = getattr(pattern.urlconf_module, "__name__", "") or f"namespace:{pattern.namespace}"
            yield from _walk(pattern.url_patterns, prefix + str(pattern.pattern), origin or included)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            key = pattern.name if pattern.name in ROUTES or pattern.name else f"route:{route}"
            if key not in ROUTES and f"route:{route}" in ROUTES:
                key = f"route:{route}"
            yield Route(route, key, pattern.callback, origin or pattern.callback.__module__)


ALL_ROUTES = list(_walk(get_resolver().url_patterns))


def _drf_view(callback):
    return getattr(callback, "cls", None)


def _owned_model(view_class):
    for candidate in (
        getattr(view_class, "owned_model", None),
        getattr(getattr(view_class, "queryset", None), "model", None),
        getattr(getattr(getattr(view_class, "serializer_class", None), "Meta", None), "model", None),
    ):
        if candidate is not None and isinstance(candidate.objects.all(), OwnedQuerySet):
            return candidate
    return None


def classify(route: Route) -> str | None:
    if route.key in ROUTES:
        return ROUTES[route.key]
    for prefix, kind in MODULE_KINDS.items():
        if route.origin.startswith(prefix):
            return kind
    # An API view first: a DRF APIView is a Django view too (it has a view_class).
    view_class = _drf_view(route.callback)
    if view_class is not None:
        if any(issubclass(p, IsStaff) for p in view_class.permission_classes):
            return "staff"
        if _owned_model(view_class) is not None:
            return "owned-api"
        return None
    page_class = getattr(route.callback, "view_class", None)
    if page_class is not None and getattr(page_class, "owned_model", None) is not None:
        return "owned-page"
    return None


def owned_models() -> list:
    return [m for m in apps.get_models() if isinstance(m.objects.all(), OwnedQuerySet)]


# --- The world: alice owns something of every kind, bob has his own ---------------


@dataclass
class World:
    alice: Any
    bob: Any
    operator: Any
    objects: dict  # model → (alice's object, bob's object)
    markers: list[str]
    alice_api_key: str

    def snapshot(self) -> dict:
        """Everything of alice's that a probe must leave untouched."""
        state = {
            "user": list(type(self.alice).objects.filter(pk=self.alice.pk).values()),
            "api_tokens": list(AuthToken.objects.filter(user=self.alice).values("digest", "expiry")),
        }
        for model in self.objects:
            state[model._meta.label] = list(model.objects.filter(owner=self.alice).order_by("pk").values())
        return state

    def client(self, user=None) -> Client:
        client = Client()
        if user is not None:
            client.force_login(user)
        return client


@pytest.fixture
def world(db) -> World:
    suffix = secrets.token_hex(4)
    alice = UserFactory(username=f"alice-{suffix}", email=f"alice-{suffix}@example.test", name=f"Alice {suffix}")
    bob = UserFactory(username=f"bob-{suffix}")
    operator = UserFactory(username=f"operator-{suffix}", is_staff=True, is_superuser=True)
    objects = {}
    for model in owned_models():
        factory = FACTORIES.get(model)
        assert factory is not None, f"tests/factories.py OWNED_FACTORIES needs a factory for {model._meta.label}"
        objects[model] = (factory(owner=alice), factory(owner=bob))
    token = webhook_token_reveal(user=alice)
    api_key = api_token_create(user=alice)
    markers = [alice.username, alice.email, alice.name, token, token[len("whk_") :], api_key, api_key[4:15]]
    for model, (mine, theirs) in objects.items():
        for field in model._meta.concrete_fields:
            value = getattr(mine, field.attname)
            # Only what is alice's own: a value bob's row shares (a kind, a server) proves nothing.
            if isinstance(value, str) and len(value) >= 6 and value != getattr(theirs, field.attname):
                markers.append(value)
    return World(alice, bob, operator, objects, markers, api_key)


def assert_no_markers(world: World, response, route: Route) -> None:
    body = response.content.decode(errors="replace") if not getattr(response, "streaming", False) else ""
    for marker in world.markers:
        assert marker not in body, f"{route.path_template} showed alice's {marker[:6]}… to bob"


def probe_values(world: World) -> dict[str, str]:
    alice_token = AuthToken.objects.filter(user=world.alice).first()
    return {
        "token_key": alice_token.token_key,
        "token": "whk_" + secrets.token_urlsafe(32),
        "pk": str(world.alice.pk),
        "object_id": str(world.alice.pk),
        "id": str(world.alice.pk),
        "content_type_id": "1",
        "key": "x" * 10,
        "uidb36": "1",
        "app_label": "accounts",
        "url": "nothing",
    }


# --- The tests -----------------------------------------------------------------


def test_every_route_is_classified():
    unknown = [route.path_template for route in ALL_ROUTES if classify(route) is None]
    assert not unknown, f"Classify these routes in tests/test_isolation.py ROUTES: {unknown}"


def test_every_websocket_route_is_classified():
    unknown = [str(p.pattern) for p in websocket_urlpatterns if str(p.pattern) not in WEBSOCKET_ROUTES]
    assert not unknown, f"Classify these WebSocket routes in WEBSOCKET_ROUTES: {unknown}"


def test_every_owned_model_has_a_factory():
    missing = [m._meta.label for m in owned_models() if m not in FACTORIES]
    assert not missing, f"Add factories to tests/factories.py OWNED_FACTORIES for {missing}"


@pytest.mark.django_db
@pytest.mark.parametrize("route", ALL_ROUTES, ids=lambda r: r.key)
def test_other_trader_can_neither_read_nor_change(world: World, route: Route):
    kind = classify(route)
    assert kind is not None, "unclassified (see test_every_route_is_classified)"
    values = probe_values(world)
    before = world.snapshot()

    if kind == "owned-api":
        _probe_owned_api(world, route, values)
    elif kind == "owned-page":
        alices = world.objects[route.callback.view_class.owned_model][0]
        path = route.path({**values, "pk": str(alices.pk), "action": "delete"})
        for method in ("get", "post"):
            response = getattr(world.client(world.bob), method)(path, {"confirm": "1"})
            assert response.status_code in (404, 405), f"bob {method.upper()} {path} → {response.status_code}"
    else:
        path = route.path(values)
        for method in ("get", "post"):
            # A guessed credential in the body too, for routes that accept one there.
            body = json.dumps({"token": values["token"]}) if method == "post" else None
            response = getattr(world.client(world.bob), method)(path, body, content_type="application/json")
            if kind == "health" and response.status_code == 503:
                assert response.json()["failing"], "503 without naming the failing part"
            else:
                assert response.status_code < 500, f"{method.upper()} {path} → {response.status_code}"
            assert_no_markers(world, response, route)
            if kind in ("staff", "admin") and method == "get":
                assert response.status_code in (302, 401, 403, 404), f"trader reached {path}"
            if kind in ("secret", "foreign"):
                assert response.status_code in (404, 405), f"{method.upper()} {path} → {response.status_code}"
        if kind in ("own", "staff", "admin", "foreign"):
            anonymous = world.client().get(path)
            assert anonymous.status_code in (302, 401, 403, 404, 405), f"anonymous GET {path} → {anonymous.status_code}"
            assert_no_markers(world, anonymous, route)

    assert world.snapshot() == before, f"bob changed alice's data through {route.path_template}"


def _probe_owned_api(world: World, route: Route, values: dict[str, str]) -> None:
    view_class = _drf_view(route.callback)
    model = _owned_model(view_class)
    alices, bobs = world.objects[model]
    # A copy: DRF adds "head" to a viewset's actions on its first request.
    actions = [
        method
        for method in getattr(route.callback, "actions", None) or {"get": "get"}
        if method in view_class.http_method_names
    ]
    detail = "pk" in route.path_template
    path = route.path({**values, "pk": str(alices.pk)})
    client = world.client(world.bob)
    for method in actions:
        if method in ("get", "head"):
            response = getattr(client, method)(path)
        else:
            response = getattr(client, method)(path, data=json.dumps({}), content_type="application/json")
        assert response.status_code < 500, f"{method.upper()} {path} → {response.status_code}"
        assert_no_markers(world, response, route)
        if detail:
            assert response.status_code == 404, f"bob {method.upper()} {path} → {response.status_code}"
        elif method == "get" and response.status_code == 200:
            body = response.json()
            # A list comes in pages ("results") or whole under the name of its rows ("accounts").
            listed = next((body[key] for key in LIST_KEYS if isinstance(body, dict) and key in body), None)
            rows = listed if listed is not None else [body]
            ids = {row.get("id") for row in rows if isinstance(row, dict)}
            assert alices.pk not in ids, f"{path} showed alice's row {alices.pk}"
            if listed is not None:
                assert bobs.pk in ids, f"{path} did not list bob's own row: the probe proves nothing"
