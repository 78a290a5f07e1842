"""GET /health and /webhook/health: is every part an order needs working right now?

Each check is a function returning a Check; apps add theirs to settings.HEALTH_CHECKS.
A check that raises counts as failing with the exception's class named, never its text
(which could carry a connection string).
"""

import asyncio
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import caches
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.status import Stat


@dataclass
class Check:
    name: str
    ok: bool
    detail: dict = field(default_factory=dict)


def check_database() -> Check:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return Check("database", True, {"vendor": connection.vendor})


def check_cache() -> Check:
    cache = caches["default"]
    cache.set("health:probe", "1", 10)
    return Check("cache", cache.get("health:probe") == "1", {"backend": cache.__class__.__name__})


def check_queue() -> Check:
    broker = get_broker()
    reachable = broker.ping()
    clusters = [stat for stat in Stat.get_all(broker=broker) if stat.status not in (Conf.STOPPED, Conf.STOPPING)]
    detail = {
        "broker": broker.__class__.__name__,
        "depth": broker.queue_size(),
        "clusters": len(clusters),
    }
    if not clusters:
        detail["error"] = "no qcluster is running"
    return Check("queue", bool(reachable and clusters), detail)


async def _channel_layer_roundtrip() -> bool:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "health.ping"})
    message = await asyncio.wait_for(layer.receive(channel), timeout=2)
    return message.get("type") == "health.ping"


def check_channel_layer() -> Check:
    layer = get_channel_layer()
    ok = async_to_sync(_channel_layer_roundtrip)()
    return Check("channel_layer", ok, {"backend": layer.__class__.__name__})


def run_checks() -> list[Check]:
    results = []
    for path in settings.HEALTH_CHECKS:
        name = path.rsplit(".", 1)[-1].removeprefix("check_")
        try:
            results.append(import_string(path)())
        except Exception as exc:  # noqa: BLE001 - health reports, it never raises
            results.append(Check(name, False, {"error": exc.__class__.__name__}))
    return results


@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    checks = run_checks()
    failing = [check.name for check in checks if not check.ok]
    body = {
        "status": "failing" if failing else "ok",
        "failing": failing,
        "checks": {check.name: {"ok": check.ok, **check.detail} for check in checks},
    }
    return JsonResponse(body, status=503 if failing else 200)
