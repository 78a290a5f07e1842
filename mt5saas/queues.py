"""The task queues' brokers, one per queue and process.

django-q2 builds a broker for every async_task that is not handed one, and a Redis broker
opens a connection of its own: milliseconds on the webhook's path, per task.
"""

import os
import threading

from django_q.brokers import Broker, get_broker

_brokers: dict[tuple[int, str], Broker] = {}
_lock = threading.Lock()


def queue_broker(queue: str) -> Broker:
    """The broker of a queue (a cluster name), made once per process: a forked worker makes its own."""
    key = (os.getpid(), queue)
    with _lock:
        if key not in _brokers:
            _brokers[key] = get_broker(queue)
        return _brokers[key]
