import factory
from factory.django import DjangoModelFactory

from live.models import Event
from tests.factories import UserFactory


class EventFactory(DjangoModelFactory):
    class Meta:
        model = Event

    owner = factory.SubFactory(UserFactory)
    kind = "order"
    payload = factory.Sequence(lambda n: {"id": n, "status": "queued"})


LIVE_FACTORIES = {Event: EventFactory}
