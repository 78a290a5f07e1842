"""Journal rows made directly (deals, closed trades, equity points), as the ingest stores them."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from journal.models import Deal, EquityPoint, Source, Trade
from tests.factories import TradingAccountFactory, UserFactory


class DealFactory(DjangoModelFactory):
    class Meta:
        model = Deal

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    ticket = factory.Sequence(lambda n: 700_000 + n)
    time = factory.LazyFunction(timezone.now)
    time_msc = factory.LazyAttribute(lambda d: int(d.time.timestamp() * 1000))
    kind = Deal.Kind.BUY
    side = "buy"
    entry = Deal.Entry.IN
    symbol = "EURUSD"
    volume = Decimal("0.10")
    price = Decimal("1.08500")
    currency = "USD"
    position = factory.LazyAttribute(lambda d: d.ticket)
    comment = factory.Sequence(lambda n: f"deal-comment-{n:05d}")
    source = Source.OUTSIDE


class TradeFactory(DjangoModelFactory):
    """A closed trade: an hour long, net profit as given (costs zero unless given)."""

    class Meta:
        model = Trade

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    position = factory.Sequence(lambda n: 800_000 + n)
    open_deal = factory.LazyAttribute(lambda t: t.position)
    status = Trade.Status.CLOSED
    symbol = "EURUSD"
    side = "buy"
    volume = Decimal("0.10")
    closed_volume = factory.LazyAttribute(lambda t: t.volume)
    close_time = factory.LazyFunction(timezone.now)
    open_time = factory.LazyAttribute(lambda t: t.close_time - timedelta(hours=1))
    open_price = Decimal("1.08500")
    close_price = Decimal("1.08600")
    profit = Decimal("10.00")
    gross_profit = factory.LazyAttribute(lambda t: t.profit)
    currency = "USD"
    duration_s = 3600
    close_reason = Deal.Reason.CLIENT
    source = Source.WEBHOOK
    strategy = factory.Sequence(lambda n: f"strategy-{n:05d}")


class EquityPointFactory(DjangoModelFactory):
    class Meta:
        model = EquityPoint

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    at = factory.Sequence(lambda n: timezone.now() - timedelta(minutes=n))
    balance = Decimal("10000.00")
    equity = Decimal("10005.50")
    currency = "USD"


JOURNAL_FACTORIES = {Deal: DealFactory, Trade: TradeFactory, EquityPoint: EquityPointFactory}
