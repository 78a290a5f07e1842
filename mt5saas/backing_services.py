"""The settings of the services the app keeps its state in: the database, and Redis as channel
layer, cache and task broker, from DATABASE_URL and REDIS_URL. Unset, the embedded stand-ins
(SQLite, the in-memory layer, local-memory and database caches, the ORM broker) let a fresh
clone run with nothing else installed."""

from pathlib import Path

import environ


def databases(env: environ.Env, *, sqlite_path: Path) -> dict:
    # SQLite: WAL + IMMEDIATE let daphne and the qcluster write without "database is locked".
    database = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": sqlite_path,
        "OPTIONS": {
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        },
    }
    if env.str("DATABASE_URL", default=""):
        sqlite_options = database["OPTIONS"]
        database = env.db_url("DATABASE_URL")
        if database["ENGINE"].endswith("sqlite3"):
            # Another SQLite file, the same needs: WAL, IMMEDIATE and patience for the other writer.
            database["OPTIONS"] = {**sqlite_options, **database.get("OPTIONS", {})}
    # Long-lived processes (qcluster workers, the host agent) keep their connection. The ASGI
    # server runs each request's code on a thread of its own, where a kept connection dies with
    # the thread: there PostgreSQL connections come from a pool (mt5saas/asgi.py sets DATABASE_POOL).
    database.update(CONN_MAX_AGE=600, CONN_HEALTH_CHECKS=True)
    if database["ENGINE"].endswith("postgresql") and env.bool("DATABASE_POOL", default=False):
        database["OPTIONS"] = {
            **database.get("OPTIONS", {}),
            # A request waits at most `timeout` for a connection: a database that is down is a
            # quick 503 (and /health says so), not a hung request.
            "pool": {"min_size": 2, "max_size": env.int("DATABASE_POOL_SIZE", default=20), "timeout": 2},
        }
        # With health checks on, Django has the pool check each connection it hands out: after a
        # database restart no request gets a dead one.
        database.update(CONN_MAX_AGE=0, CONN_HEALTH_CHECKS=True)
    return {"default": database}


# channels-redis waits for a consumer's next message with a blocking pop of up to 5 s
# (RedisChannelLayer.brpop_timeout). redis-py 8 reads every reply within socket_timeout,
# 5 s by default: an idle consumer's pop timed out and the consumer died (a WebSocket closed
# with 1011 every few seconds of quiet). The read allows the pop's time and a margin; a
# connection that has really gone silent is still given up.
CHANNEL_LAYER_SOCKET_TIMEOUT_S = 15.0


def channel_layers(redis_url: str) -> dict:
    if redis_url:
        host = {"address": redis_url, "socket_timeout": CHANNEL_LAYER_SOCKET_TIMEOUT_S}
        return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer", "CONFIG": {"hosts": [host]}}}
    # Single process only; fine for `make run`.
    return {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


def caches(redis_url: str) -> dict:
    if redis_url:
        redis = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": redis_url}
        return {"default": redis, "shared": redis}
    return {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        # Seen by every process (daphne, qcluster): cluster stats for /health. Its table is
        # made by migration mt5saas.0001.
        "shared": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "mt5saas_shared_cache",
        },
    }


def q_cluster(env: environ.Env, redis_url: str) -> dict:
    if redis_url:
        broker = {"redis": redis_url, "broker_class": "mt5saas.queues.RedisBroker"}
    else:
        # The ORM broker looks for tasks every `poll` seconds when idle (django-q2's default 0.2 s
        # is most of a signal's way to its terminal); 50 indexed reads a second cost little.
        broker = {"orm": "default", "poll": 0.02}
    # retry > timeout, or a slow task is handed out a second time.
    return {
        "name": "mt5saas",
        "workers": env.int("Q_WORKERS", default=2),
        "timeout": 60,
        "retry": 90,
        "max_attempts": 1,
        "ack_failures": True,
        "cache": "shared",
        "label": "Task queue",
        # One queue per Windows host: `Q_CLUSTER_NAME=<queue> manage.py qcluster` reads the queue
        # named after the host, and async_task(..., cluster=<queue>) sends work there. A host
        # needs no entry here unless its worker differs from the defaults above (django-q2
        # requires the key whenever Q_CLUSTER_NAME is set).
        "ALT_CLUSTERS": {},
        # Workers stay daemonic (they die with their cluster): MT5 terminal sessions are the
        # host agent's children, never a worker's (terminals/sessions/).
        **broker,
    }
