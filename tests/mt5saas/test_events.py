"""The event bus: stored inside the publisher's transaction, handed to every subscriber after its
commit with the stored ids, held back by events_held() until release, and one subscriber that
fails stops neither the others nor the publisher."""

import logging

import pytest
from django.db import transaction

from live.models import Event
from mt5saas.events import PublishedEvent, events_held, publish_each, publish_many, subscribe
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class Recorder:
    """A subscriber for the whole session (there is no unsubscribing), recording while on."""

    def __init__(self, *, fails: bool = False) -> None:
        self.fails, self.on = fails, False
        self.calls: list[tuple[int, list[PublishedEvent]]] = []

    def __call__(self, user_id: int, events: list[PublishedEvent]) -> None:
        if not self.on:
            return
        self.calls.append((user_id, events))
        if self.fails:
            raise RuntimeError("a subscriber that fails")


FAILING, RECORDING = Recorder(fails=True), Recorder()
subscribe(FAILING)  # subscribed first: the one after it must still be called
subscribe(RECORDING)


@pytest.fixture
def delivered():
    for recorder in (FAILING, RECORDING):
        recorder.calls.clear()
        recorder.on = True
    yield RECORDING.calls
    FAILING.on = RECORDING.on = False


def test_events_are_stored_in_the_transaction_and_delivered_after_its_commit_with_their_ids(
    delivered, django_capture_on_commit_callbacks, caplog
):
    trader = UserFactory()
    with django_capture_on_commit_callbacks(execute=True), caplog.at_level(logging.ERROR):
        publish_many(trader.pk, [("signal", {"id": 1}), ("order", {"id": 2})])
        stored = list(Event.objects.filter(owner=trader).order_by("id").values_list("id", "kind", "payload"))
        assert [kind for _, kind, _ in stored] == ["signal", "order"]
        assert delivered == []  # not before the commit

    assert delivered == [(trader.pk, [PublishedEvent(*row) for row in stored])]
    assert len(FAILING.calls) == 1 and "a subscriber that fails" in caplog.text


def test_a_rolled_back_publish_leaves_no_event_and_delivers_nothing(delivered, django_capture_on_commit_callbacks):
    trader = UserFactory()
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ZeroDivisionError), transaction.atomic():
        publish_many(trader.pk, [("order", {"id": 1})])
        1 / 0  # noqa: B018

    assert not Event.objects.filter(owner=trader).exists()
    assert delivered == []


def test_held_deliveries_wait_for_release_and_come_in_order_once(delivered, django_capture_on_commit_callbacks):
    alice, bob = UserFactory(), UserFactory()
    with events_held() as held, django_capture_on_commit_callbacks(execute=True):
        publish_each([(alice.pk, "order", {"id": 1}), (bob.pk, "order", {"id": 2}), (alice.pk, "order", {"id": 3})])
    assert delivered == []

    held.release()
    held.release()
    assert [(user_id, [event.payload["id"] for event in events]) for user_id, events in delivered] == [
        (alice.pk, [1, 3]),
        (bob.pk, [2]),
    ]
