"""An order shows the lots it sent (a risk-sized one too), written before the send, and a resend
after an interruption sends that same size; the order links to the deals it produced."""

from decimal import Decimal

import pytest
from django.db import DatabaseError

from terminals.gateway import simulated_driver
from terminals.models import Order, SimAccount, TradingAccount
from terminals.orders import send
from terminals.orders.drain import account_drain
from terminals.services import account_connect
from tests.factories import OrderFactory
from tests.terminals.interruptions import connection_drops, paper_terminals_writing_deals

pytestmark = pytest.mark.django_db
SIZED = (Decimal("0.09"), Decimal("0.1"))  # 1 % of 10,000 at a stop 1,000 away; 0.09 if the quote ticked


@pytest.fixture
def account(alice) -> TradingAccount:
    return account_connect(owner=alice, login="8810001", password="pw", server="SimBroker-Demo", kind="simulated")


def risk_sized(account) -> Order:
    ask = simulated_driver(account).tick("BTCUSD").ask
    return OrderFactory(
        owner=account.owner, account=account, signal=None, requested_symbol="BTCUSD", comment="", side="buy",
        volume=None, risk_percent=Decimal("1"), sl=Decimal(str(round(ask - 1000, 2))),
    )  # fmt: skip


def test_a_risk_sized_order_shows_the_volume_it_sent_in_the_api_and_the_history(account, api_client, client):
    sized = risk_sized(account)

    account_drain(account.pk)

    api_client.force_authenticate(account.owner)
    shown = api_client.get(f"/api/v1/orders/{sized.pk}/").json()
    assert shown["status"] == "filled" and shown["volume"] is None and shown["risk_percent"] == "1.000"
    assert Decimal(shown["sent_volume"]) in SIZED and shown["filled_volume"] == shown["sent_volume"]
    assert shown["deals_url"] == f"http://testserver/api/v1/deals/?order={sized.pk}"
    client.force_login(account.owner)
    page = client.get("/history").content.decode()
    sent = Decimal(shown["sent_volume"]).normalize()
    assert f'buy {sent:f} <span class="text-body-secondary">(risk 1%)</span> BTCUSD' in page
    assert f'href="/api/v1/deals/?order={sized.pk}" data-testid="deals"' in page


def test_the_sent_volume_is_written_before_the_terminal_is_called(account, monkeypatch):
    sized = risk_sized(account)
    seen = []
    real = send.order_send_for

    def spy(driver, request, **kwargs):
        seen.append((Order.objects.get(pk=sized.pk).sent_volume, Decimal(str(request.volume))))
        return real(driver, request, **kwargs)

    monkeypatch.setattr(send, "order_send_for", spy)
    account_drain(account.pk)

    ((stored, requested),) = seen
    assert stored is not None and stored == requested and stored in SIZED


def test_a_resend_after_an_interruption_sends_the_size_sent_first(account):
    sized = risk_sized(account)
    with connection_drops(paper_terminals_writing_deals), pytest.raises(DatabaseError):
        account_drain(account.pk)  # the terminal's trade rolled back: not on the terminal
    first = Order.objects.get(pk=sized.pk)
    assert first.status == "sending" and first.sent_volume in SIZED
    assert simulated_driver(account).positions() == []
    # Meanwhile the balance doubled: sized anew, the order would be twice as large.
    SimAccount.objects.filter(login=8810001).update(balance=Decimal("20000"))

    account_drain(account.pk)

    sized.refresh_from_db()
    assert sized.status == "filled" and sized.filled_volume == first.sent_volume == sized.sent_volume
    (position,) = simulated_driver(account).positions()
    assert Decimal(str(position.volume)) == first.sent_volume


def test_an_order_given_in_lots_and_a_close_show_what_they_sent(account, api_client):
    asked = OrderFactory(owner=account.owner, account=account, signal=None, requested_symbol="BTCUSD",
                         comment="", side="buy", volume=Decimal("0.0150"))  # fmt: skip
    account_drain(account.pk)
    close = OrderFactory(owner=account.owner, account=account, signal=None, requested_symbol="BTCUSD",
                         comment="", action="close_all", side="", volume=None)  # fmt: skip
    account_drain(account.pk)

    api_client.force_authenticate(account.owner)
    rows = {row["id"]: row for row in api_client.get("/api/v1/orders/").json()["results"]}
    # The symbol's step is 0.01: 0.015 asked, 0.01 sent (normalised down), 0.01 closed.
    assert (rows[asked.pk]["volume"], rows[asked.pk]["sent_volume"]) == ("0.0150", "0.0100")
    assert (rows[close.pk]["volume"], rows[close.pk]["sent_volume"]) == (None, "0.0100")
