"""The realised result of a calendar day, per account and currency, for the daily summary."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from journal.models import Deal
from journal.services import AccountResult, day_result, totals_by_currency
from tests.factories import TradeDealFactory, TradeFactory, TradingAccountFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 3, 10)


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


def test_the_days_trading_deals_net_of_costs_per_account(alice, bob):
    usd = TradingAccountFactory(owner=alice, login="7200001")
    eur = TradingAccountFactory(owner=alice, login="7200002")
    out = {"owner": alice, "account": usd, "entry": Deal.Entry.OUT}
    TradeDealFactory(**out, time=at(0, 0), profit=Decimal("10.00"), commission=Decimal("-1.00"))  # 00:00
    TradeDealFactory(**out, time=at(23, 59), profit=Decimal("-4.00"), swap=Decimal("-0.25"), fee=Decimal("-0.10"))
    TradeDealFactory(**out, time=at(0, 0, day=11), profit=Decimal("100.00"))  # the next day
    TradeDealFactory(**out, time=at(9), kind=Deal.Kind.BALANCE, side="", symbol="", profit=Decimal("1000.00"))
    TradeDealFactory(**out, time=at(9), kind=Deal.Kind.CREDIT, side="", symbol="", profit=Decimal("50.00"))
    TradeDealFactory(owner=alice, account=eur, time=at(12), currency="EUR", profit=Decimal("7.50"))
    TradeDealFactory(owner=bob, time=at(12), profit=Decimal("55.00"))
    TradeFactory(owner=alice, account=usd, close_time=at(23, 59))
    TradeFactory(owner=alice, account=usd, close_time=at(1, day=11))

    results = day_result(user=alice, day=DAY)

    assert results == [
        AccountResult(account=usd.pk, login="7200001", currency="USD", profit=Decimal("4.65"), trades=1),
        AccountResult(account=eur.pk, login="7200002", currency="EUR", profit=Decimal("7.50"), trades=0),
    ]
    assert totals_by_currency(results) == {"USD": Decimal("4.65"), "EUR": Decimal("7.50")}
    assert day_result(user=alice, day=date(2026, 3, 9)) == []
