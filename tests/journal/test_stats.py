"""Every journal statistic against figures worked out by hand from small data sets."""

import statistics
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from django.utils import timezone

from journal import stats
from journal.models import Deal, Trade
from tests.factories import DealFactory, EquityPointFactory, TradeFactory, TradingAccountFactory

D = Decimal


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, minute, tzinfo=UTC)  # 2024-01-01 is a Monday


def pct(value: Decimal) -> Decimal:
    return value.quantize(D("0.0001"), rounding=ROUND_HALF_UP)


def money_of(user):
    return Deal.objects.owned_by(user).filter(kind__in=stats.MONEY_KINDS)


def trades_of(user):
    return Trade.objects.owned_by(user)


@pytest.fixture
def book(alice):
    """USD: deposit 1000, three trades, deposit 500, two trades, withdrawal 300, one trade.
    EUR (another account): deposit 200, one trade of +20."""
    usd = TradingAccountFactory(owner=alice)
    eur = TradingAccountFactory(owner=alice)
    DealFactory(owner=alice, account=usd, time=at(1, 8), profit=D("1000"))
    trade = {"owner": alice, "account": usd}
    TradeFactory(**trade, close_time=at(1, 10), side="buy", symbol="EURUSD", profit=D("100"), commission=D("-2"))
    TradeFactory(**trade, close_time=at(1, 15), side="sell", symbol="XAUUSD", profit=D("-50"))
    TradeFactory(**trade, close_time=at(2, 9), side="buy", symbol="EURUSD", profit=D("30"))
    DealFactory(owner=alice, account=usd, time=at(2, 12), profit=D("500"))
    TradeFactory(
        **trade,
        close_time=at(2, 14),
        side="sell",
        symbol="EURUSD",
        profit=D("-200"),
        commission=D("-3"),
        swap=D("-1.5"),
    )
    TradeFactory(**trade, close_time=at(3, 11), side="buy", symbol="XAUUSD", profit=D("0"))
    DealFactory(owner=alice, account=usd, time=at(3, 12), profit=D("-300"))
    TradeFactory(**trade, close_time=at(4, 10), side="buy", symbol="EURUSD", profit=D("80"))
    DealFactory(owner=alice, account=eur, time=at(1, 8), profit=D("200"), currency="EUR")
    TradeFactory(owner=alice, account=eur, close_time=at(2, 10), profit=D("20"), currency="EUR")
    # Another kind of deal and another trader's trade: neither counts.
    DealFactory(owner=alice, account=usd, time=at(1, 9), kind=Deal.Kind.BUY, profit=D("0"))
    TradeFactory(close_time=at(2, 10), profit=D("999"))
    return alice


@pytest.mark.django_db
def test_trader_figures_are_per_currency_and_match_the_hand_computed_ones(book):
    _eur, usd_figures = stats.figures(trades_of(book), money_of(book))

    assert usd_figures.currency == "USD"
    assert (usd_figures.trades, usd_figures.wins, usd_figures.losses) == (6, 3, 2)  # the 0 is neither
    assert usd_figures.net_profit == D("100") - 50 + 30 - 200 + 0 + 80 == D("-40")
    assert usd_figures.gross_profit == D("210.00")  # 100 + 30 + 80
    assert usd_figures.gross_loss == D("-250.00")  # -50 - 200
    assert usd_figures.commission == D("-5.00")
    assert usd_figures.swap == D("-1.50")
    assert usd_figures.win_rate == D("50.0000")  # 3 / 6
    assert usd_figures.profit_factor == D("0.8400")  # 210 / 250
    assert usd_figures.expectancy == D("-6.67")  # -40 / 6
    assert usd_figures.average_win == D("70.00")  # 210 / 3
    assert usd_figures.average_loss == D("-125.00")  # -250 / 2
    assert (usd_figures.largest_win, usd_figures.largest_loss) == (D("100.00"), D("-200.00"))
    assert (usd_figures.deposits, usd_figures.withdrawals) == (D("1500.00"), D("-300.00"))
    assert usd_figures.long == stats.Side(trades=4, wins=3, net_profit=D("210.00"))  # 100 + 30 + 0 + 80
    assert usd_figures.short == stats.Side(trades=2, wins=0, net_profit=D("-250.00"))
    # 1 to 4 January, both counted: 4 days.
    assert usd_figures.trades_per_day == D("1.5000")


@pytest.mark.django_db
def test_drawdown_counts_trading_results_only_against_the_peak_balance(book):
    eur_figures, usd_figures = stats.figures(trades_of(book), money_of(book))

    # Balance (peak): deposit 1000 (1000), +100 1100 (1100), -50 1050 (1100), +30 1080 (1100),
    # deposit 500 1580 (1600), -200 1380 (1600): down 220 = 13.75 % of 1600; 0 1380,
    # withdrawal 300 1080 (1300), +80 1160 (1300): down 140.
    assert usd_figures.max_drawdown == D("220.00")
    assert usd_figures.max_drawdown_pct == pct(D(220) / 1600 * 100) == D("13.7500")
    # EUR never fell below its peak.
    assert (eur_figures.max_drawdown, eur_figures.max_drawdown_pct) == (D("0.00"), D("0.0000"))


@pytest.mark.django_db
def test_gain_is_time_weighted_across_deposits_and_withdrawals(book):
    eur_figures, usd_figures = stats.figures(trades_of(book), money_of(book))

    # Sub-periods between money movements: from 1000, +80; from 1080 + 500, -200; from 1380 - 300, +80.
    growth = (1 + D(80) / 1000) * (1 + D(-200) / 1580) * (1 + D(80) / 1080)
    assert usd_figures.gain_pct == pct((growth - 1) * 100) == D("1.3165")
    assert usd_figures.daily_gain_pct == pct((growth ** (D(1) / 4) - 1) * 100)  # 4 days
    months = D(4) / (D("365.25") / 12)
    assert usd_figures.monthly_gain_pct == pct((growth ** (1 / months) - 1) * 100)
    assert eur_figures.gain_pct == D("10.0000")  # 20 on 200


@pytest.mark.django_db
def test_sharpe_and_sortino_are_over_daily_returns(book):
    eur_figures, usd_figures = stats.figures(trades_of(book), money_of(book))

    returns = [
        D(50) / 1000,  # 1 Jan: +100 - 50 from 1000
        (1 + D(30) / 1050) * (1 + D(-200) / 1580) - 1,  # 2 Jan: +30 from 1050, deposit, -200 from 1580
        D(0),  # 3 Jan: breakeven
        D(80) / 1080,  # 4 Jan: after the withdrawal
    ]
    mean = sum(returns) / 4
    deviation = (sum((r - mean) ** 2 for r in returns) / 3).sqrt()
    downside = (returns[1] ** 2 / 4).sqrt()  # the only negative day, over all 4 days
    assert usd_figures.sharpe_ratio == pct(mean / deviation)
    assert usd_figures.sortino_ratio == pct(mean / downside)
    assert statistics.mean(returns) == mean
    # One day of EUR trading: no ratio.
    assert (eur_figures.sharpe_ratio, eur_figures.sortino_ratio) == (None, None)


@pytest.mark.django_db
def test_a_range_starts_from_the_balance_before_it(book):
    since, until = at(2, 0), at(4, 0)

    eur_figures, usd_figures = stats.figures_between(trades_of(book), money_of(book), since=since, until=until)

    # 2 and 3 January: +30, -200, 0 on USD; opening 1000 + 100 - 50 = 1050.
    assert (usd_figures.trades, usd_figures.wins, usd_figures.losses) == (3, 1, 1)
    assert usd_figures.net_profit == D("-170.00")
    assert (usd_figures.deposits, usd_figures.withdrawals) == (D("500.00"), D("-300.00"))
    # 1050 +30 1080 (peak), deposit 1580 (1580), -200 1380: 200 = 12.6582 % of 1580.
    assert usd_figures.max_drawdown == D("200.00")
    assert usd_figures.max_drawdown_pct == pct(D(200) / 1580 * 100)
    growth = (1 + D(30) / 1050) * (1 + D(-200) / 1580)
    assert usd_figures.gain_pct == pct((growth - 1) * 100)
    assert usd_figures.trades_per_day == D("1.5000")  # 3 trades over 2 days
    assert stats.opening_balances(trades_of(book), money_of(book), before=since) == {
        "USD": D("1050"),
        "EUR": D("200"),
    }
    assert eur_figures.gain_pct == D("10.0000")


@pytest.mark.django_db
def test_no_trades_and_no_money_give_no_figures(alice):
    assert stats.figures(trades_of(alice), money_of(alice)) == []
    assert stats.calendar(trades_of(alice)) == []
    assert stats.breakdown(trades_of(alice), "symbol") == []


@pytest.mark.django_db
def test_money_without_trades_gives_empty_figures(alice):
    DealFactory(owner=alice, time=at(1, 8), profit=D("1000"))

    (figures,) = stats.figures_between(trades_of(alice), money_of(alice), since=at(1, 0), until=at(3, 0))

    assert (figures.trades, figures.net_profit, figures.deposits) == (0, D("0.00"), D("1000.00"))
    assert (figures.win_rate, figures.profit_factor, figures.expectancy, figures.average_win) == (None,) * 4
    assert (figures.max_drawdown, figures.max_drawdown_pct, figures.gain_pct) == (D("0.00"), None, D("0.0000"))
    assert figures.trades_per_day == D("0.0000")  # 0 over 2 days


@pytest.mark.django_db
def test_one_trade(alice):
    DealFactory(owner=alice, time=at(1, 8), profit=D("500"))
    TradeFactory(owner=alice, close_time=at(1, 9), profit=D("25.50"), side="sell")

    (figures,) = stats.figures(trades_of(alice), money_of(alice))

    assert (figures.trades, figures.wins, figures.losses, figures.win_rate) == (1, 1, 0, D("100.0000"))
    assert (figures.expectancy, figures.average_win, figures.average_loss) == (D("25.50"), D("25.50"), None)
    assert figures.profit_factor is None  # no loss to divide by
    assert figures.gain_pct == D("5.1000")  # 25.50 / 500
    assert figures.daily_gain_pct == D("5.1000")  # one day
    assert (figures.sharpe_ratio, figures.sortino_ratio) == (None, None)
    assert figures.short == stats.Side(1, 1, D("25.50"))


@pytest.mark.django_db
def test_all_losses(alice):
    DealFactory(owner=alice, time=at(1, 8), profit=D("1000"))
    for day, loss in ((1, "-100"), (2, "-50"), (3, "-250")):
        TradeFactory(owner=alice, close_time=at(day, 12), profit=D(loss))

    (figures,) = stats.figures(trades_of(alice), money_of(alice))

    assert (figures.wins, figures.losses, figures.win_rate) == (0, 3, D("0.0000"))
    assert figures.profit_factor == D("0.0000")  # 0 / 400
    assert (figures.average_win, figures.largest_win) == (None, None)
    assert (figures.average_loss, figures.largest_loss) == (D("-133.33"), D("-250.00"))  # -400 / 3
    assert figures.max_drawdown == D("400.00")  # 1000 down to 600
    assert figures.max_drawdown_pct == D("40.0000")
    assert figures.gain_pct == D("-40.0000")  # 900/1000 * 850/900 * 600/850
    returns = [D(-100) / 1000, D(-50) / 900, D(-250) / 850]
    mean = sum(returns) / 3
    downside = (sum(r**2 for r in returns) / 3).sqrt()
    assert figures.sortino_ratio == pct(mean / downside)


@pytest.mark.django_db
def test_all_wins_and_breakeven(alice):
    DealFactory(owner=alice, time=at(1, 8), profit=D("1000"))
    TradeFactory(owner=alice, close_time=at(1, 12), profit=D("10"))
    TradeFactory(owner=alice, close_time=at(2, 12), profit=D("0"))
    TradeFactory(owner=alice, close_time=at(3, 12), profit=D("30"))

    (figures,) = stats.figures(trades_of(alice), money_of(alice))

    assert (figures.trades, figures.wins, figures.losses) == (3, 2, 0)
    assert figures.win_rate == D("66.6667")  # 2 / 3
    assert figures.profit_factor is None
    assert (figures.max_drawdown, figures.max_drawdown_pct) == (D("0.00"), D("0.0000"))
    assert figures.sortino_ratio is None  # no day below zero
    returns = [D(10) / 1000, D(0), D(30) / 1010]
    mean = sum(returns) / 3
    assert figures.sharpe_ratio == pct(mean / (sum((r - mean) ** 2 for r in returns) / 2).sqrt())


@pytest.mark.django_db
def test_a_result_on_no_balance_has_no_gain(alice):
    TradeFactory(owner=alice, close_time=at(1, 12), profit=D("10"))
    TradeFactory(owner=alice, close_time=at(1, 13), profit=D("-4"))

    (figures,) = stats.figures(trades_of(alice), money_of(alice))

    assert (figures.gain_pct, figures.daily_gain_pct) == (None, None)
    assert figures.max_drawdown == D("4.00")
    assert figures.max_drawdown_pct == D("40.0000")  # 4 below a peak of 10


@pytest.mark.django_db
def test_open_trades_are_left_out(alice):
    TradeFactory(owner=alice, close_time=at(1, 12), profit=D("10"))
    TradeFactory(owner=alice, status=Trade.Status.OPEN, close_time=None, open_time=at(1, 13))

    (figures,) = stats.figures(trades_of(alice), money_of(alice))

    assert figures.trades == 1


@pytest.mark.django_db
def test_breakdowns_group_per_key_and_currency(book, alice):
    by_symbol = stats.breakdown(trades_of(book), "symbol")
    by_weekday = stats.breakdown(trades_of(book), "weekday")
    by_hour = stats.breakdown(trades_of(book), "hour")

    assert by_symbol == [
        # EURUSD: +100, +30, -200, +80; XAUUSD: -50, 0; the EUR account's EURUSD +20.
        stats.Group("EURUSD", "EUR", 1, 1, D("20.00"), losses=0),
        stats.Group("EURUSD", "USD", 4, 3, D("10.00"), losses=1),
        stats.Group("XAUUSD", "USD", 2, 0, D("-50.00"), losses=1),
    ]
    # Monday 100 - 50, Tuesday 30 - 200 (and EUR 20), Wednesday 0, Thursday 80.
    assert [(g.key, g.currency, g.net_profit) for g in by_weekday] == [
        ("1", "USD", D("50.00")),
        ("2", "EUR", D("20.00")),
        ("2", "USD", D("-170.00")),
        ("3", "USD", D("0.00")),
        ("4", "USD", D("80.00")),
    ]
    assert [(g.key, g.trades) for g in by_hour if g.currency == "USD"] == [
        ("9", 1),
        ("10", 2),
        ("11", 1),
        ("14", 1),
        ("15", 1),
    ]


@pytest.mark.django_db
def test_breakdown_by_strategy_and_copy_pair_keeps_the_empty_key(alice):
    TradeFactory(owner=alice, close_time=at(1, 12), profit=D("10"), strategy="breakout")
    TradeFactory(owner=alice, close_time=at(1, 13), profit=D("-4"), strategy="")

    assert [(g.key, g.net_profit) for g in stats.breakdown(trades_of(alice), "strategy")] == [
        ("", D("-4.00")),
        ("breakout", D("10.00")),
    ]
    assert [(g.key, g.trades) for g in stats.breakdown(trades_of(alice), "copy_pair")] == [("", 2)]
    with pytest.raises(ValueError):
        stats.breakdown(trades_of(alice), "account; drop table")


@pytest.mark.django_db
def test_calendar_and_weekday_follow_the_current_time_zone(alice):
    # 23:30 UTC on Monday 1 January is 08:30 on Tuesday 2 January in Tokyo.
    TradeFactory(owner=alice, close_time=at(1, 23, 30), profit=D("7"))
    TradeFactory(owner=alice, close_time=at(1, 10), profit=D("5"))

    assert stats.calendar(trades_of(alice)) == [stats.Day(at(1, 0).date(), "USD", 2, D("12.00"))]
    with timezone.override("Asia/Tokyo"):
        days = stats.calendar(trades_of(alice))
        weekdays = stats.breakdown(trades_of(alice), "weekday")
        hours = stats.breakdown(trades_of(alice), "hour")
        (figures,) = stats.figures(trades_of(alice), money_of(alice))
    assert [(d.day.day, d.net_profit) for d in days] == [(1, D("5.00")), (2, D("7.00"))]
    assert [(g.key, g.net_profit) for g in weekdays] == [("1", D("5.00")), ("2", D("7.00"))]
    assert [g.key for g in hours] == ["8", "19"]
    assert figures.trades_per_day == D("1.0000")  # 2 trades over Monday and Tuesday in Tokyo


@pytest.mark.django_db
def test_equity_curve_keeps_a_short_range_whole(alice):
    account = TradingAccountFactory(owner=alice)
    for minute in range(5):
        EquityPointFactory(owner=alice, account=account, at=at(1, 0, minute), equity=D(100 + minute))

    curve = stats.equity_curve(
        EquityPointFactory._meta.model.objects.owned_by(alice), since=at(1, 0, 1), until=at(1, 0, 4)
    )

    assert [p.equity for p in curve] == [D("101.00"), D("102.00"), D("103.00")]


@pytest.mark.django_db
def test_equity_curve_is_thinned_keeping_ends_and_extremes(alice):
    account = TradingAccountFactory(owner=alice)
    model = EquityPointFactory._meta.model
    start = at(1, 0)
    rows = [
        model(owner=alice, account=account, at=start + timezone.timedelta(minutes=i), equity=D(1000 + i % 50))
        for i in range(10_000)
    ]
    rows[4321].equity = D("1")  # the deepest fall
    model.objects.bulk_create(rows)

    curve = stats.equity_curve(model.objects.owned_by(alice), since=None, until=None)

    assert len(curve) <= stats.MAX_POINTS
    assert (curve[0].at, curve[-1].at) == (rows[0].at, rows[-1].at)
    assert min(p.equity for p in curve) == D("1")
    assert [p.at for p in curve] == sorted(p.at for p in curve)
