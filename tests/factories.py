from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.models import User, WebhookToken
from accounts.services import webhook_token_rotate
from copytrading.models import CopyEvent, CopyExecution, CopyLink, CopyPair, MasterCursor
from copytrading.services import pair_create
from journal.models import Deal, EquityPoint, Trade
from terminals.models import AccountEvent, Order, SymbolMapping, TradingAccount
from webhooks.models import Signal


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"trader{n:04d}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    name = factory.LazyAttribute(lambda u: f"Trader {u.username}")
    # Set, so pages do not reload to take the browser's zone; time_zone="" tests that.
    time_zone = "UTC"
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


class CopyPairFactory(DjangoModelFactory):
    """Created through the service, so the key is stored exactly as production stores it."""

    class Meta:
        model = CopyPair

    owner = factory.SubFactory(UserFactory)
    master = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    slave = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))

    @classmethod
    def _create(cls, model_class, owner, master, slave, **kwargs):
        pair, _ = pair_create(owner=owner, master=master, slave=slave, **kwargs)
        return pair


class CopyEventFactory(DjangoModelFactory):
    class Meta:
        model = CopyEvent

    owner = factory.SubFactory(UserFactory)
    master = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    kind = CopyEvent.Kind.DEAL_ADD
    order_id = factory.Sequence(lambda n: f"master-order-{n:05d}")
    symbol = "XAUUSD"
    side = "buy"
    volume = Decimal("0.10")


class CopyExecutionFactory(DjangoModelFactory):
    class Meta:
        model = CopyExecution

    owner = factory.SubFactory(UserFactory)
    event = factory.SubFactory(CopyEventFactory, owner=factory.SelfAttribute("..owner"))
    slave = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    error = factory.Sequence(lambda n: f"copy-error-{n:05d}")


class CopyLinkFactory(DjangoModelFactory):
    class Meta:
        model = CopyLink

    owner = factory.SubFactory(UserFactory)
    pair = factory.SubFactory(CopyPairFactory, owner=factory.SelfAttribute("..owner"))
    slave = factory.SelfAttribute("pair.slave")
    open_order = factory.SubFactory(
        OrderFactory, owner=factory.SelfAttribute("..owner"), account=factory.SelfAttribute("..pair.slave")
    )
    master_order_id = factory.Sequence(lambda n: f"linked-order-{n:05d}")
    master_volume = Decimal("0.10")


class MasterCursorFactory(DjangoModelFactory):
    class Meta:
        model = MasterCursor

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    read_at = factory.LazyFunction(timezone.now)


class DealFactory(DjangoModelFactory):
    """A money movement (a deposit of 1000) unless told otherwise."""

    class Meta:
        model = Deal

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    ticket = factory.Sequence(lambda n: 70_000_000 + n)
    time = factory.LazyFunction(timezone.now)
    time_msc = factory.LazyAttribute(lambda d: int(d.time.timestamp() * 1000))
    kind = Deal.Kind.BALANCE
    profit = Decimal("1000.00")
    currency = "USD"
    comment = factory.Sequence(lambda n: f"deal-comment-{n:05d}")


class TradeDealFactory(DealFactory):
    """A deal of a trade: a buy opening 0.10 EURUSD unless told otherwise."""

    kind = Deal.Kind.BUY
    side = "buy"
    entry = Deal.Entry.IN
    symbol = "EURUSD"
    volume = Decimal("0.10")
    price = Decimal("1.08500")
    profit = Decimal("0.00")
    position = factory.Sequence(lambda n: 90_000_000 + n)


class TradeFactory(DjangoModelFactory):
    """A closed trade; `profit` is net, gross_profit defaults to it (no costs)."""

    class Meta:
        model = Trade

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    position = factory.Sequence(lambda n: 80_000_000 + n)
    open_deal = factory.SelfAttribute("position")
    status = Trade.Status.CLOSED
    symbol = "EURUSD"
    side = "buy"
    volume = Decimal("0.10")
    closed_volume = factory.SelfAttribute("volume")
    close_time = factory.LazyFunction(timezone.now)
    open_time = factory.LazyAttribute(lambda t: t.close_time - timedelta(hours=1))
    open_price = Decimal("1.10000")
    close_price = Decimal("1.10100")
    profit = Decimal("10.00")
    commission = Decimal("0.00")
    swap = Decimal("0.00")
    fee = Decimal("0.00")
    gross_profit = factory.LazyAttribute(lambda t: t.profit - t.commission - t.swap - t.fee)
    currency = "USD"
    strategy = factory.Sequence(lambda n: f"strategy-{n:05d}")


class EquityPointFactory(DjangoModelFactory):
    class Meta:
        model = EquityPoint

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    at = factory.Sequence(lambda n: timezone.now() - timedelta(minutes=n))
    balance = Decimal("1000.00")
    equity = Decimal("1000.00")
    currency = "USD"


# Every model whose manager has owned_by() needs a factory here; the isolation test
# fails for an owned model it cannot create.
OWNED_FACTORIES = {
    WebhookToken: WebhookTokenFactory,
    TradingAccount: TradingAccountFactory,
    SymbolMapping: SymbolMappingFactory,
    AccountEvent: AccountEventFactory,
    Signal: SignalFactory,
    Order: OrderFactory,
    CopyPair: CopyPairFactory,
    CopyEvent: CopyEventFactory,
    CopyExecution: CopyExecutionFactory,
    CopyLink: CopyLinkFactory,
    MasterCursor: MasterCursorFactory,
    Deal: DealFactory,
    Trade: TradeFactory,
    EquityPoint: EquityPointFactory,
}
