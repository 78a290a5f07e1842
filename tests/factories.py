from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from accounts.models import User, WebhookToken
from accounts.services import webhook_token_rotate
from terminals.models import AccountEvent, Order, SymbolMapping, TradingAccount
from webhooks.models import Signal


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"trader{n:04d}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    name = factory.LazyAttribute(lambda u: f"Trader {u.username}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class WebhookTokenFactory(DjangoModelFactory):
    """Issues through the service, so the row is exactly what production stores."""

    class Meta:
        model = WebhookToken

    owner = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, owner, **kwargs):
        webhook_token_rotate(user=owner)
        return model_class.objects.get(owner=owner)


class TradingAccountFactory(DjangoModelFactory):
    class Meta:
        model = TradingAccount

    owner = factory.SubFactory(UserFactory)
    login = factory.Sequence(lambda n: str(5_000_000 + n))
    server = "SimBroker-Demo"
    broker = "SimBroker"
    kind = TradingAccount.Kind.SIMULATED
    nickname = factory.Sequence(lambda n: f"acct-{n:05d}")
    status = TradingAccount.Status.ONLINE


class SymbolMappingFactory(DjangoModelFactory):
    class Meta:
        model = SymbolMapping

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    requested = factory.Sequence(lambda n: f"REQ{n:05d}")
    broker_symbol = factory.Sequence(lambda n: f"BRK{n:05d}.m")


class AccountEventFactory(DjangoModelFactory):
    class Meta:
        model = AccountEvent

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    status = TradingAccount.Status.ONLINE
    reason = factory.Sequence(lambda n: f"heartbeat-{n:05d}")


class SignalFactory(DjangoModelFactory):
    class Meta:
        model = Signal

    owner = factory.SubFactory(UserFactory)
    action = "open"
    symbol = factory.Sequence(lambda n: f"SYM{n:05d}")
    idempotency_key = factory.Sequence(lambda n: f"alert-{n:06d}")


class OrderFactory(DjangoModelFactory):
    class Meta:
        model = Order

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    signal = factory.SubFactory(SignalFactory, owner=factory.SelfAttribute("..owner"))
    side = "buy"
    requested_symbol = "BTCUSD"
    volume = Decimal("0.10")
    comment = factory.Sequence(lambda n: f"order-comment-{n:05d}")


# Every model whose manager has owned_by() needs a factory here; the isolation test
# fails for an owned model it cannot create.
OWNED_FACTORIES = {
    WebhookToken: WebhookTokenFactory,
    TradingAccount: TradingAccountFactory,
    SymbolMapping: SymbolMappingFactory,
    AccountEvent: AccountEventFactory,
    Signal: SignalFactory,
    Order: OrderFactory,
}
