"""The daily loss and per-trade risk guards, set through the accounts API and met by orders
placed through the order API and executed by the account's drain task.

Paper terminals read a frozen clock, so quotes stand still, and a BTCUSD price unit is worth
1.00 USD per lot: every loss below is exact."""

import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models import F
from django.utils import timezone

from terminals import gateway, tasks
from terminals.models import Order, SimAccount, SimDeal, SimPosition, TradingAccount
from tests.terminals.clocks import Clock, paper_terminals_on

BUY, SELL, BALANCE = 0, 1, 2  # DEAL_TYPE_*
OUT = 1  # DEAL_ENTRY_OUT


@pytest.fixture
def account(api_client, alice, monkeypatch) -> TradingAccount:
    paper_terminals_on(Clock(int(time.time() * 1000)), monkeypatch)
    api_client.force_login(alice)
    body = {"login": "8300001", "password": "paper-pass", "server": "SimBroker-Demo", "kind": "simulated"}
    return TradingAccount.objects.get(pk=api_client.post("/api/v1/accounts/connect", body, format="json").json()["id"])


def limits_set(api_client, account, **body) -> None:
    response = api_client.patch(f"/api/v1/accounts/{account.pk}/", body, format="json")
    assert response.status_code == 200, response.json()


def place(api_client, account, **fields) -> Order:
    """An order placed as a trader's script would, executed by the account's drain task."""
    body = {"action": "buy", "symbol": "BTCUSD", **fields}
    response = api_client.post("/api/v1/orders/", body, format="json")
    assert response.status_code == 202, response.json()
    tasks.account_drain(account.pk)
    return Order.objects.get(pk=response.json()["orders"][0]["id"])


def realised_today(account, profit: str, *, kind: int = SELL, at=None) -> None:
    """The broker's history: a deal that closed a position today (or `at`) with this profit."""
    book = SimAccount.objects.get(login=int(account.login), server=account.server)
    when = at or timezone.now()
    SimDeal.objects.create(
        account=book, order=1, position_id=1, symbol="BTCUSD", type=kind, entry=OUT, volume=Decimal("1"),
        price=65000.0, profit=Decimal(profit), time_msc=int(when.timestamp() * 1000),
    )  # fmt: skip
    SimAccount.objects.filter(pk=book.pk).update(balance=F("balance") + Decimal(profit))


def floating(api_client, account, loss: Decimal) -> None:
    """An open position of 1 lot that is `loss` down: opened at the ask, the market then fell."""
    opened = place(api_client, account, volume="1")
    assert opened.status == "filled"
    spread = -Decimal(str(gateway.simulated_driver(account).account_info().profit))
    SimPosition.objects.update(price_open=F("price_open") + float(loss - spread))
    assert Decimal(str(gateway.simulated_driver(account).account_info().profit)) == -loss


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("realised", "open_loss", "limit", "refused"),
    [
        ("-300", Decimal("0"), "300", True),  # realised alone reaches it
        ("-200", Decimal("100"), "300", True),  # realised and floating together
        ("0", Decimal("300"), "300", True),  # floating alone
        ("-200", Decimal("99"), "300", False),  # 299 is under 300
        ("150", Decimal("400"), "300", False),  # a profit closed today offsets the floating loss
    ],
)
def test_daily_loss_amount_counts_todays_realised_and_floating_loss(
    api_client, account, realised, open_loss, limit, refused
):
    realised_today(account, realised)
    if open_loss:
        floating(api_client, account, open_loss)
    limits_set(api_client, account, max_daily_loss=limit)

    order = place(api_client, account, volume="0.01")

    if refused:
        assert order.status == "rejected"
        assert order.status_reason == f"Today's loss reached the account's limit of {limit}.00."
    else:
        assert order.status == "filled", order.status_reason


@pytest.mark.django_db
def test_daily_loss_ignores_yesterday_and_deposits_or_withdrawals(api_client, account):
    realised_today(account, "-1000", at=timezone.now() - timedelta(days=1, hours=1))
    realised_today(account, "-1000", kind=BALANCE)  # a withdrawal is no trading loss
    limits_set(api_client, account, max_daily_loss="100")

    order = place(api_client, account, volume="0.01")

    assert order.status == "filled", order.status_reason


@pytest.mark.django_db
def test_daily_loss_fraction_is_a_share_of_the_days_starting_balance(api_client, account):
    # 10,000 at the start of the day; 200 lost since, 100 of it still open.
    realised_today(account, "-100")
    floating(api_client, account, Decimal("100"))

    limits_set(api_client, account, risk_limits={"max_daily_loss": 0.02})  # 200 of 10,000, not of 9,900
    reached = place(api_client, account, volume="0.01")
    limits_set(api_client, account, max_daily_loss_fraction="0.015")  # today's flat name of the same limit
    over = place(api_client, account, volume="0.01")
    limits_set(api_client, account, risk_limits={"max_daily_loss": 0.03})  # 300: not three cents
    under = place(api_client, account, volume="0.01")

    assert under.status == "filled", under.status_reason
    assert reached.status == "rejected"
    assert reached.status_reason == (
        "Today's loss of 200.00 USD reached the account's limit of 2 % of the day's starting balance (200.00 USD)."
    )
    assert over.status == "rejected" and "limit of 1.5 % of the day's starting balance (150.00 USD)" in (
        over.status_reason
    )


@pytest.mark.django_db
def test_max_risk_per_trade_refuses_risk_sized_orders_above_it(api_client, account):
    limits_set(api_client, account, risk_limits={"max_risk_per_trade": 0.02})
    stop = gateway.simulated_driver(account).tick("BTCUSD").ask - 1000

    refused = place(api_client, account, risk=5, stop_loss=stop)
    sized = place(api_client, account, risk=1, stop_loss=stop)

    assert refused.status == "rejected"
    assert refused.status_reason == "This order risks 5 % of the balance, above the account's limit of 2 % per trade."
    # 1 % of 10,000 at a stop 1,000 away: 0.1 lots.
    assert sized.status == "filled" and sized.filled_volume == Decimal("0.1")


@pytest.mark.django_db
def test_max_risk_per_trade_refuses_a_volume_whose_stop_loses_more(api_client, account):
    limits_set(api_client, account, risk_limits={"max_risk_per_trade": 0.02})
    ask = gateway.simulated_driver(account).tick("BTCUSD").ask

    refused = place(api_client, account, volume="0.5", stop_loss=ask - 1000)
    by_pips = place(api_client, account, volume="5", sl_pips=5000)  # 5,000 points of 0.01: 50.00 away
    allowed = place(api_client, account, volume="0.2", stop_loss=ask - 1000)
    no_stop = place(api_client, account, volume="0.5")

    assert refused.status == "rejected"
    assert refused.status_reason == (
        "This order risks 5 % of the balance (500.00 USD at the stop loss), above the account's limit of 2 % per trade."
    )
    assert by_pips.status == "rejected" and "risks 2.5 % of the balance (250.00 USD" in by_pips.status_reason
    assert allowed.status == "filled", allowed.status_reason
    # Without a stop loss the loss is not bounded by a price: max_lot is the guard for those.
    assert no_stop.status == "filled", no_stop.status_reason
