from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from alerts.models import Alert, Delivery, Endpoint, Kind, Preference, PriceAlert
from mt5saas.crypto import encrypt
from tests.factories import TradingAccountFactory, UserFactory


class EndpointFactory(DjangoModelFactory):
    class Meta:
        model = Endpoint

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"hook-{n:04d}")
    url = factory.LazyFunction(lambda: encrypt("https://hooks.example.test/secret-path"))
    url_display = factory.Sequence(lambda n: f"https://receiver-{n:04d}.example.test/…")
    secret = factory.LazyFunction(lambda: encrypt("whsec_factory"))


class PreferenceFactory(DjangoModelFactory):
    class Meta:
        model = Preference
        # Every user has a row per kind from creation on (the defaults).
        django_get_or_create = ("owner", "kind")

    owner = factory.SubFactory(UserFactory)
    kind = Kind.ORDER_FILLED
    in_app = True


class PriceAlertFactory(DjangoModelFactory):
    class Meta:
        model = PriceAlert

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    name = factory.Sequence(lambda n: f"level-{n:04d}")
    symbol = "EURUSD"
    condition = PriceAlert.Condition.ABOVE
    price = Decimal("1.1")


class AlertFactory(DjangoModelFactory):
    class Meta:
        model = Alert

    owner = factory.SubFactory(UserFactory)
    kind = Kind.ORDER_FILLED
    title = factory.Sequence(lambda n: f"Order filled number {n:04d}")
    text = factory.Sequence(lambda n: f"Details of alert {n:04d}")


class DeliveryFactory(DjangoModelFactory):
    class Meta:
        model = Delivery

    owner = factory.SubFactory(UserFactory)
    alert = factory.SubFactory(AlertFactory, owner=factory.SelfAttribute("..owner"))
    channel = Delivery.Channel.EMAIL
    target = factory.Sequence(lambda n: f"trader{n:04d}@example.test")
    status = Delivery.Status.FAILED


ALERTS_FACTORIES = {
    Endpoint: EndpointFactory,
    Preference: PreferenceFactory,
    PriceAlert: PriceAlertFactory,
    Alert: AlertFactory,
    Delivery: DeliveryFactory,
}
