from datetime import UTC, datetime, timedelta
from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from journal.models import Deal, EquityPoint, Source, Trade
from tests.factories import TradingAccountFactory, UserFactory

START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)


class DealFactory(DjangoModelFactory):
    class Meta:
        model = Deal

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    ticket = factory.Sequence(lambda n: 9_000_000 + n)
    time = factory.Sequence(lambda n: START + timedelta(minutes=n))
    time_msc = factory.LazyAttribute(lambda d: int(d.time.timestamp() * 1000))
    kind = Deal.Kind.BUY
    side = factory.LazyAttribute(lambda d: d.kind if d.kind in ("buy", "sell") else "")
    entry = Deal.Entry.IN
    symbol = "EURUSD"
    volume = Decimal("0.10")
    price = Decimal("1.08500")
    position = factory.SelfAttribute("ticket")
    comment = factory.Sequence(lambda n: f"deal-note-{n:05d}")
    currency = "USD"


class TradeFactory(DjangoModelFactory):
    """A closed trade by default (what the journal lists)."""

    class Meta:
        model = Trade

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    position = factory.Sequence(lambda n: 7_000_000 + n)
    open_deal = factory.SelfAttribute("position")
    status = Trade.Status.CLOSED
    symbol = "EURUSD"
    side = "buy"
    volume = Decimal("0.10")
    closed_volume = factory.SelfAttribute("volume")
    open_time = factory.Sequence(lambda n: START + timedelta(hours=n))
    open_price = Decimal("1.08500")
    close_time = factory.LazyAttribute(lambda t: t.open_time + timedelta(minutes=30))
    close_price = Decimal("1.08600")
    gross_profit = Decimal("10.00")
    commission = Decimal("-0.70")
    swap = Decimal("0.00")
    fee = Decimal("0.00")
    profit = factory.LazyAttribute(lambda t: t.gross_profit + t.commission + t.swap + t.fee)
    currency = "USD"
    duration_s = 1800
    close_reason = Deal.Reason.CLIENT
    source = Source.WEBHOOK
    strategy = factory.Sequence(lambda n: f"strategy-{n:05d}")


class EquityPointFactory(DjangoModelFactory):
    class Meta:
        model = EquityPoint

    owner = factory.SubFactory(UserFactory)
    account = factory.SubFactory(TradingAccountFactory, owner=factory.SelfAttribute("..owner"))
    at = factory.Sequence(lambda n: START + timedelta(minutes=n))
    balance = Decimal("1000.00")
    equity = Decimal("1000.00")
    currency = "USD"


JOURNAL_FACTORIES = {Deal: DealFactory, Trade: TradeFactory, EquityPoint: EquityPointFactory}
