"""/copy/history: a page of its own with filters; master symbols as the master sent them; slaves by name."""

from html import unescape

import pytest
from django.test import Client

from copytrading.models import CopyEvent, CopyExecution
from copytrading.services import pair_create
from tests.copytrading.conftest import drain_all


@pytest.fixture
def signed_in(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.mark.django_db
def test_copy_history_is_a_page_with_filters_and_its_table_alone_for_htmx(signed_in, paper, alice, trade):
    master, follower = paper("Master one"), paper("Follower")
    _, key = pair_create(owner=alice, master=master, slave=follower)
    trade(key, master, event="deal_add", order_id="o-1", symbol="BTCUSD", type="BUY", volume=0.1)
    drain_all()

    page = signed_in.get("/copy/history")
    table = signed_in.get("/copy/history", headers={"HX-Request": "true"}).text

    assert page.status_code == 200 and "<title>Copy history · mt5saas</title>" in page.text
    assert 'data-testid="copy-history-filters"' in page.text and 'class="navbar' in page.text
    assert "<html" not in table and 'data-testid="copy-history"' in table and "o-1" in table
    assert 'href="/copy/history"' in signed_in.get("/copy").text


@pytest.mark.django_db
def test_copy_history_filters_by_result_master_and_symbol(signed_in, paper, alice, trade):
    one, two, follower = paper("One"), paper("Two"), paper("Follower", "SimStandard-Demo")
    _, key_one = pair_create(owner=alice, master=one, slave=follower)
    _, key_two = pair_create(owner=alice, master=two, slave=follower)
    trade(key_one, one, event="deal_add", order_id="btc-1", symbol="BTCUSD", type="BUY", volume=0.1)
    trade(key_two, two, event="deal_add", order_id="nope-1", symbol="NOSUCH", type="BUY", volume=0.1)
    drain_all()

    errors = signed_in.get("/copy/history", {"status": "error"}).text
    by_master = signed_in.get("/copy/history", {"master": one.pk}).text
    by_symbol = signed_in.get("/copy/history", {"symbol": "btcusd"}).text

    assert "nope-1" in errors and "btc-1" not in errors
    assert "btc-1" in by_master and "nope-1" not in by_master
    assert "btc-1" in by_symbol and "nope-1" not in by_symbol


@pytest.mark.django_db
def test_another_traders_master_is_a_filter_error_and_shows_nothing_of_theirs(paper, alice, bob, trade):
    master, follower = paper("Master"), paper("Follower")
    _, key = pair_create(owner=alice, master=master, slave=follower)
    trade(key, master, event="deal_add", order_id="alice-1", symbol="BTCUSD", type="BUY", volume=0.1)
    client = Client()
    client.force_login(bob)

    page = client.get("/copy/history", {"master": master.pk}).text
    everything = client.get("/copy/history").text

    assert "Select a valid choice" in page and "alice-1" not in page
    assert "alice-1" not in everything and f'<option value="{master.pk}"' not in everything


@pytest.mark.django_db
def test_a_masters_symbol_keeps_its_case_and_still_maps(signed_in, paper, alice, trade):
    master, follower = paper("Master"), paper("Follower", "SimBroker-Demo")
    _, key = pair_create(owner=alice, master=master, slave=follower, symbol_map={"XAUUSD": "GOLD"})
    trade(key, master, event="deal_add", order_id="eur-1", symbol="EURUSD.m", type="BUY", volume=0.1)
    trade(key, master, event="deal_add", order_id="gold-1", symbol="xauusd", type="BUY", volume=0.1)
    drain_all()

    html = unescape(signed_in.get("/copy/history").text)

    assert set(CopyEvent.objects.values_list("symbol", flat=True)) == {"EURUSD.m", "xauusd"}
    assert set(CopyExecution.objects.values_list("status", "symbol")) == {("success", "EURUSD.m"), ("success", "GOLD")}
    assert ">EURUSD.m</td>" in html and ">xauusd → GOLD</td>" in html


@pytest.mark.django_db
def test_without_automatic_mapping_the_masters_spelling_is_sent_as_is(paper, alice, trade):
    master, follower = paper("Master"), paper("Follower", "SimBroker-Demo")
    _, key = pair_create(owner=alice, master=master, slave=follower, auto_symbol_map=False)
    trade(key, master, event="deal_add", order_id="eur-1", symbol="EURUSD.m", type="BUY", volume=0.1)
    trade(key, master, event="deal_add", order_id="gold-1", symbol="gold", type="BUY", volume=0.1)
    drain_all()

    results = dict(CopyExecution.objects.values_list("event__order_id", "status"))
    assert results == {"eur-1": "success", "gold-1": "success"}
    assert set(CopyExecution.objects.values_list("symbol", flat=True)) == {"EURUSD.m", "GOLD"}


@pytest.mark.django_db
def test_slaves_and_masters_are_shown_by_name(signed_in, paper, alice, trade):
    master, follower = paper("Gold master"), paper("Follower")
    unnamed = paper("")
    _, key = pair_create(owner=alice, master=master, slave=follower)
    pair_create(owner=alice, master=master, slave=unnamed)
    trade(key, master, event="deal_add", order_id="o-1", symbol="BTCUSD", type="BUY", volume=0.1)
    drain_all()

    html = signed_in.get("/copy/history").text
    slaves = [cell.split("<", 1)[0] for cell in html.split('data-testid="copy-slave">')[1:]]

    assert sorted(slaves) == sorted(["Follower", unnamed.login])
    assert ">Gold master</td>" in html
