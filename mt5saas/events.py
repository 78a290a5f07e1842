"""The one way to publish a domain event: stored inside the publisher's transaction, handed to
the subscribers after its commit, so nobody sees a state that was rolled back.

The apps that own the store and the subscribers register them in their AppConfig.ready() (the
live app stores events and relays them to the channel layer; alerts wakes its dispatcher): this
base knows none of them. Reactions that must commit or roll back with the change itself are
Django signals of the app that records it (terminals.signals), not events.
"""

import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol

from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

log = logging.getLogger(__name__)

FLUSH_TIMEOUT_S = 2.0


@dataclass(frozen=True, slots=True)
class PublishedEvent:
    """One stored event: `id` is the stream id clients resume from."""

    id: int
    kind: str
    payload: dict


class EventStore(Protocol):
    def __call__(self, *, owner_id: int, events: list[tuple[str, dict]]) -> list[int]:
        """Store one publish call's events in the caller's transaction; their ids, in order."""


# Called after the publisher's commit with (user id, that publish's events). A subscriber must
# return at once: it runs on the publisher's path (a request, an order's worker).
Subscriber = Callable[[int, list[PublishedEvent]], None]
# Waits up to the given seconds until what this process published is delivered; False on timeout.
Flush = Callable[[float], bool]


@dataclass
class _Registry:
    store: EventStore | None = None
    subscribers: tuple[Subscriber, ...] = ()
    flushes: tuple[Flush, ...] = ()


_registry = _Registry()


def store_register(store: EventStore) -> None:
    """The one place events are kept (the live app's table)."""
    _registry.store = store


def subscribe(subscriber: Subscriber, *, flush: Flush | None = None) -> None:
    """Call `subscriber` after each publisher's commit. One that delivers later, on a thread or
    a loop of its own, gives `flush` to wait for it (events_flush)."""
    if subscriber not in _registry.subscribers:  # ready() may run more than once
        _registry.subscribers += (subscriber,)
        if flush is not None:
            _registry.flushes += (flush,)


def publish_to_user(user_id: int, kind: str, payload: dict) -> None:
    """Store now, deliver after the surrounding transaction commits."""
    publish_many(user_id, [(kind, payload)])


def publish_many(user_id: int, events: list[tuple[str, dict]]) -> None:
    """Several events of one user, in order: stored in one INSERT inside the caller's transaction
    (a rolled-back order leaves no event) and handed to each subscriber together after the
    commit, each with its stored id."""
    if not events:
        return
    if _registry.store is None:
        raise ImproperlyConfigured("No event store is registered: the live app registers it in its ready().")
    ids = _registry.store(owner_id=user_id, events=events)
    published = [PublishedEvent(event_id, kind, payload) for event_id, (kind, payload) in zip(ids, events, strict=True)]
    for subscriber in _registry.subscribers:
        # robust: a subscriber that fails is logged; the others and the publisher go on.
        transaction.on_commit(_delivery(subscriber, user_id, published), robust=True)


def publish_each(events: Iterable[tuple[int, str, dict]]) -> None:
    """Events of several users, each (user id, kind, payload): publish_many once per user, in order."""
    by_user: dict[int, list[tuple[str, dict]]] = {}
    for user_id, kind, payload in events:
        by_user.setdefault(user_id, []).append((kind, payload))
    for user_id, grouped in by_user.items():
        publish_many(user_id, grouped)


def events_flush(timeout: float = FLUSH_TIMEOUT_S) -> bool:
    """Wait until this process has delivered what it published; False on timeout."""
    return all([flush(timeout) for flush in _registry.flushes])


class HeldEvents:
    """Deliveries kept back by events_held(), handed over in order by release() (once)."""

    def __init__(self) -> None:
        self.deliveries: list[Callable[[], None]] = []
        self.released = False

    def release(self) -> None:
        if self.released:
            return
        self.released = True
        deliveries, self.deliveries = self.deliveries, []
        for delivery in deliveries:
            try:
                delivery()
            except Exception:  # logged, as on_commit(robust=True) does; the others go on
                log.exception("delivering held events failed")


_held: ContextVar[HeldEvents | None] = ContextVar("events_held", default=None)


@contextmanager
def events_held() -> Iterator[HeldEvents]:
    """Events committed inside the block are stored as ever but delivered only on release().

    For a reply whose time is promised: handing a send to the event loop from the request's
    thread wakes the loop, which then holds the GIL while the reply waits to be written. The
    caller releases after the reply has left; an error in the block releases at once.
    """
    held = HeldEvents()
    token = _held.set(held)
    try:
        yield held
    except BaseException:
        held.release()
        raise
    finally:
        _held.reset(token)


def _delivery(subscriber: Subscriber, user_id: int, events: list[PublishedEvent]) -> Callable[[], None]:
    """The on_commit callback (a function: Django logs a failing one by its __qualname__)."""

    def deliver() -> None:
        if (held := _held.get()) is not None and not held.released:
            held.deliveries.append(lambda: subscriber(user_id, events))
            return
        subscriber(user_id, events)

    return deliver
