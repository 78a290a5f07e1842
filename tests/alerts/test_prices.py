"""Price alerts trigger from the quotes the host agent reads of simulated terminals."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from alerts.models import Alert, Kind, PriceAlert
from alerts.services import price_alert_create
from terminals.agent import HostAgent
from terminals.drivers import open_driver
from terminals.services import account_connect, simulated_host

from .helpers import prefer


@pytest.fixture
def paper(alice):
    return account_connect(owner=alice, login="8900001", password="pw", server="SimBroker-Demo", kind="simulated")


@pytest.fixture
def agent():
    return HostAgent(host=simulated_host(), open_driver=open_driver)


def bid(account) -> Decimal:
    return Decimal(str(open_driver(account).tick("EURUSD.m").bid))


@pytest.mark.django_db
def test_a_one_off_alert_triggers_once_and_switches_off(alice, paper, agent, smtp, sync_queue,
                                                        django_capture_on_commit_callbacks):  # fmt: skip
    prefer(alice, Kind.PRICE, email=True, in_app=True)
    level = (bid(paper) * Decimal("0.5")).quantize(Decimal("0.00001"))
    alert = price_alert_create(owner=alice, account=paper, symbol="EURUSD.m", condition="above", price=level,
                               name="Half price")  # fmt: skip
    far = price_alert_create(owner=alice, account=paper, symbol="EURUSD.m", condition="above", price=level * 4)

    with django_capture_on_commit_callbacks(execute=True):
        agent.tick()
        agent.tick()

    alert.refresh_from_db()
    far.refresh_from_db()
    assert not alert.active and alert.triggered_at is not None and alert.last_price > level
    assert far.active and far.triggered_at is None and far.last_price is not None
    raised = Alert.objects.get(owner=alice, kind=Kind.PRICE)
    assert raised.title == f"Price alert Half price: EURUSD.m is greater than {level.normalize()}"
    assert paper.login in raised.text and "switched off" in raised.text
    assert len(smtp.messages) == 1


@pytest.mark.django_db
def test_crossing_needs_the_previous_quote_on_the_other_side(alice, paper, agent, sync_queue,
                                                             django_capture_on_commit_callbacks):  # fmt: skip
    prefer(alice, Kind.PRICE, in_app=True)
    now = bid(paper)
    up = price_alert_create(owner=alice, account=paper, symbol="EURUSD.m", condition="crosses_above",
                            price=now - Decimal("0.01"))  # fmt: skip
    down = price_alert_create(owner=alice, account=paper, symbol="EURUSD.m", condition="crosses_below",
                              price=now - Decimal("0.01"))  # fmt: skip

    with django_capture_on_commit_callbacks(execute=True):
        agent.tick()  # the first quote: nothing to cross from
    assert not Alert.objects.filter(kind=Kind.PRICE).exists()

    PriceAlert.objects.filter(pk=up.pk).update(last_price=now - Decimal("0.02"))  # the market was below the level
    with django_capture_on_commit_callbacks(execute=True):
        agent.tick()
    assert list(Alert.objects.filter(kind=Kind.PRICE).values_list("data__price_alert", flat=True)) == [up.pk]
    down.refresh_from_db()
    assert down.active and down.triggered_at is None


@pytest.mark.django_db
def test_a_repeating_alert_waits_its_cool_down(alice, paper, agent, sync_queue, django_capture_on_commit_callbacks):
    prefer(alice, Kind.PRICE, in_app=True)
    alert = price_alert_create(owner=alice, account=paper, symbol="EURUSD.m", condition="above",
                               price=Decimal("0.0001"), repeat=True, cooldown_minutes=30)  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        agent.tick()
        agent.tick()
    assert Alert.objects.filter(kind=Kind.PRICE).count() == 1

    PriceAlert.objects.filter(pk=alert.pk).update(triggered_at=timezone.now() - timedelta(minutes=31))
    with django_capture_on_commit_callbacks(execute=True):
        agent.tick()
    assert Alert.objects.filter(kind=Kind.PRICE).count() == 2
    alert.refresh_from_db()
    assert alert.active


@pytest.mark.django_db
def test_alerts_of_a_trader_without_price_preferences_only_track_the_price(alice, paper, agent):
    prefer(alice, Kind.ORDER_FILLED, in_app=True)
    alert = price_alert_create(owner=alice, account=paper, symbol="EURUSD.m", condition="above", price="0.0001")
    agent.tick()
    alert.refresh_from_db()
    assert alert.triggered_at is not None and not Alert.objects.filter(kind=Kind.PRICE).exists()
