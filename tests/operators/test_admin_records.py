"""Orders, signals, copy events and live events in the admin: read-only, searchable, cheap to
list, and an order's page says why it did or did not go through."""

from datetime import timedelta

import pytest
from django.utils import timezone

from copytrading.models import CopyEvent, CopyLink
from live.models import Event
from terminals.models import Order
from tests.factories import (
    CopyEventFactory,
    CopyExecutionFactory,
    CopyLinkFactory,
    OrderFactory,
    SignalFactory,
    TradingAccountFactory,
    UserFactory,
)
from tests.live.factories import EventFactory
from webhooks.models import Signal

pytestmark = pytest.mark.django_db

TOKEN = "whk_" + "S3cretTokenInTheBody" * 2

# Model → (admin path, factory) of the records operators read and nobody edits.
RECORDS = {
    Order: ("/admin/terminals/order/", OrderFactory),
    Signal: ("/admin/webhooks/signal/", SignalFactory),
    CopyEvent: ("/admin/copytrading/copyevent/", CopyEventFactory),
    CopyLink: ("/admin/copytrading/copylink/", CopyLinkFactory),
    Event: ("/admin/live/event/", EventFactory),
}


@pytest.fixture
def staff(client, operator):
    client.force_login(operator)
    return client


def test_order_page_says_why_a_trade_did_not_go_through(staff):
    trader = UserFactory(username="gold-trader")
    account = TradingAccountFactory(owner=trader, login="7700123")
    signal = SignalFactory(owner=trader, payload={"action": "buy", "symbol": "XAUUSD", "volume": "5", "token": TOKEN})
    received = timezone.now() - timedelta(seconds=2)
    order = OrderFactory(
        owner=trader, account=account, signal=signal, requested_symbol="XAUUSD", symbol="XAUUSD.m",
        status=Order.Status.REJECTED, retcode=10019, status_reason="Not enough margin for 5 lots",
        comment="tv-breakout", created_at=received, queued_at=received + timedelta(milliseconds=3),
        sent_at=received + timedelta(milliseconds=12), done_at=received + timedelta(milliseconds=95),
    )  # fmt: skip
    execution = CopyExecutionFactory(owner=trader, slave=account, order=order, status="error", error="slave refused")

    page = staff.get(f"/admin/terminals/order/{order.pk}/change/").text

    assert "rejected" in page.lower()
    assert "There is not enough money to complete the request (NO_MONEY 10019)" in page
    assert "Not enough margin for 5 lots" in page and "tv-breakout" in page
    assert "queued +3.0 ms, sent +12.0 ms, done +95.0 ms" in page
    assert "&quot;symbol&quot;: &quot;XAUUSD&quot;" in page
    assert "&quot;token&quot;: &quot;&lt;redacted&gt;&quot;" in page
    assert TOKEN not in page and "S3cretToken" not in page
    assert f"/admin/copytrading/copyevent/{execution.event.pk}/change/" in page and "slave refused" in page
    assert f"/admin/webhooks/signal/{signal.pk}/change/" in page


def test_signal_page_shows_its_body_errors_and_orders_without_credentials(staff):
    signal = SignalFactory(
        status=Signal.Status.REFUSED, payload={"token": TOKEN, "note": f"sent to /webhook/{TOKEN}"},
        errors={"volume": ["Must be greater than 0."]}, response={"status": 400, "body": {"detail": "Bad fields"}},
    )  # fmt: skip
    order = OrderFactory(owner=signal.owner, signal=signal, retcode=10018, status=Order.Status.REJECTED)

    page = staff.get(f"/admin/webhooks/signal/{signal.pk}/change/").text

    assert "Must be greater than 0." in page and "Bad fields" in page
    assert "Market is closed (MARKET_CLOSED 10018)" in page and f"/admin/terminals/order/{order.pk}/change/" in page
    assert "S3cretToken" not in page and "/webhook/&lt;redacted&gt;" in page


@pytest.mark.parametrize("model", RECORDS, ids=lambda m: m._meta.label)
def test_records_are_read_only_one_at_a_time_and_in_bulk(staff, model):
    path, factory = RECORDS[model]
    row = factory()
    before = model.objects.filter(pk=row.pk).values().get()

    listing = staff.get(path)
    add = staff.get(f"{path}add/")
    change = staff.post(f"{path}{row.pk}/change/", {"status": "filled", "symbol": "CHANGED"})
    delete = staff.post(f"{path}{row.pk}/delete/", {"post": "yes"})
    bulk = staff.post(path, {"action": "delete_selected", "_selected_action": [row.pk], "post": "yes"})

    assert listing.status_code == 200 and 'name="action"' not in listing.text  # no bulk actions offered
    assert add.status_code == change.status_code == delete.status_code == 403
    assert bulk.status_code in (200, 302)
    assert model.objects.filter(pk=row.pk).values().get() == before
    assert staff.get(f"{path}{row.pk}/change/").status_code == 200


def test_orders_are_found_by_trader_account_symbol_status_and_time(staff):
    alice = UserFactory(username="alice-finds")
    mine = OrderFactory(owner=alice, requested_symbol="XAUUSD", status=Order.Status.FAILED)
    old = OrderFactory(owner=alice, requested_symbol="EURUSD", created_at=timezone.now() - timedelta(days=400))
    other = OrderFactory(requested_symbol="BTCUSD", status=Order.Status.FILLED)
    path = "/admin/terminals/order/"

    def found(**query) -> set[int]:
        response = staff.get(path, query)
        assert response.status_code == 200, query
        return {pk for pk in (mine.pk, old.pk, other.pk) if f'href="{path}{pk}/change/' in response.text}

    assert found(q="alice-finds") == {mine.pk, old.pk}
    assert found(q=mine.account.login) == {mine.pk}
    assert found(q="xauusd") == {mine.pk}
    assert found(status__exact="failed") == {mine.pk}
    assert found(created_at__year=str(old.created_at.year), created_at__month=str(old.created_at.month)) == {old.pk}
    assert found(q=str(other.pk)) >= {other.pk}
    # Ugly searches are an empty list, never an error.
    assert found(q="not-a-number ' \" %") == set()


@pytest.mark.parametrize(
    ("model", "fields", "status_filter", "date_field"),
    [
        (Signal, {"status": "refused", "symbol": "GBPJPY"}, {"status__exact": "refused"}, "received_at"),
        (CopyEvent, {"status": "error", "symbol": "GBPJPY"}, {"status__exact": "error"}, "received_at"),
        (Event, {"kind": "account", "payload": {"symbol": "GBPJPY"}}, {"kind__exact": "account"}, "created_at"),
    ],
    ids=["signal", "copy-event", "live-event"],
)
def test_records_are_found_by_trader_symbol_status_and_time(staff, model, fields, status_filter, date_field):
    path, factory = RECORDS[model]
    wanted = factory(owner=UserFactory(username="wanted-trader"), **fields)
    unwanted = factory()
    model.objects.filter(pk=unwanted.pk).update(**{date_field: timezone.now() - timedelta(days=400)})
    today = timezone.now()
    by_day = {f"{date_field}__{part}": getattr(today, part) for part in ("year", "month", "day")}

    for query in ({"q": "wanted-trader"}, {"q": "gbpjpy"}, status_filter, by_day):
        page = staff.get(path, query).text
        assert f"{path}{wanted.pk}/change/" in page, query
        assert f"{path}{unwanted.pk}/change/" not in page, query
