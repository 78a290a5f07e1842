"""The task queues' brokers, one per queue and process.

django-q2 builds a broker for every async_task that is not handed one, and a Redis broker
opens a connection of its own: milliseconds on the webhook's path, per task.
"""

import logging
import os
import threading
import time

import redis
from django_q.brokers import Broker, get_broker
from django_q.brokers.redis_broker import Redis

log = logging.getLogger(__name__)


_brokers: dict[tuple[int, str], Broker] = {}
_lock = threading.Lock()


def queue_broker(queue: str) -> Broker:
    """The broker of a queue (a cluster name), made once per process: a forked worker makes its own."""
    key = (os.getpid(), queue)
    with _lock:
        if key not in _brokers:
            _brokers[key] = get_broker(queue)
        return _brokers[key]


class RedisBroker(Redis):
    """django-q2's Redis broker, whose qcluster takes tasks again as soon as Redis is back.

    django-q2's pusher answers a failed dequeue by sleeping 10 s and exiting for its
    sentinel to restart it: queued work would wait up to that long after Redis returned.
    Here a failed dequeue waits half a second and reports an empty queue, so the pusher
    keeps asking.
    """

    RETRY_S = 0.5

    def dequeue(self):
        try:
            return super().dequeue()
        except (redis.ConnectionError, redis.TimeoutError) as error:
            log.warning("task queue: Redis unavailable (%s); trying again", error.__class__.__name__)
            time.sleep(self.RETRY_S)
            return None
