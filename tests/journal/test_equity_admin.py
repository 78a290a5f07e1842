"""The journal in the admin: deals, trades and equity points listed and filtered, never edited."""

from decimal import Decimal

import pytest

from journal.models import Deal, EquityPoint, Trade
from tests.factories import EquityPointFactory, TradeDealFactory, TradeFactory

pytestmark = pytest.mark.django_db


def test_operators_filter_the_journal_and_cannot_change_it(client, operator, alice):
    client.force_login(operator)
    stop_out = TradeDealFactory(owner=alice, reason=Deal.Reason.SO, symbol="XAUUSD", profit=Decimal("-102.00"))
    TradeDealFactory(owner=alice, reason=Deal.Reason.CLIENT, symbol="GBPJPY")
    trade = TradeFactory(owner=alice, close_reason=Deal.Reason.SL)
    point = EquityPointFactory(owner=alice, step=EquityPoint.Step.HOUR, balance=Decimal("10000.00"))

    listed = client.get("/admin/journal/deal/", {"reason__exact": "so"}).content.decode()
    assert "XAUUSD" in listed and "GBPJPY" not in listed
    assert client.get("/admin/journal/trade/", {"close_reason__exact": "sl"}).status_code == 200
    assert client.get("/admin/journal/equitypoint/", {"step__exact": "3600"}).status_code == 200
    for path in (f"/admin/journal/deal/{stop_out.pk}/change/", f"/admin/journal/trade/{trade.pk}/change/"):
        page = client.get(path).content.decode()
        assert "readonly" in page and 'name="profit"' not in page  # shown, no field to edit
    assert client.post(f"/admin/journal/equitypoint/{point.pk}/change/", {"balance": "1"}).status_code == 403
    assert client.get("/admin/journal/deal/add/").status_code == 403
    assert client.post(f"/admin/journal/trade/{trade.pk}/delete/", {"post": "yes"}).status_code == 403
    assert Trade.objects.filter(pk=trade.pk).exists()
    assert EquityPoint.objects.get(pk=point.pk).balance == Decimal("10000.00")
