"""The Copy trading page: create and edit pairs, the key shown once, view and rotate, history."""

import re

import pytest
from django.test import Client

from copytrading.models import CopyPair
from copytrading.services import pair_by_key, pair_create


@pytest.fixture
def signed_in(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def shown_key(html: str) -> str:
    match = re.search(r'id="pair-key" value="([^"]+)"', html)
    assert match, "no key on the page"
    return match[1]


@pytest.mark.django_db
def test_a_trader_creates_a_pair_and_its_key_is_shown_once(signed_in, paper):
    master, slave = paper("Gold master"), paper("Follower")

    created = signed_in.post(
        "/copy",
        {"master": master.pk, "slave": slave.pk, "volume_mode": "multiply", "multiplier": "0.5",
         "fixed_volume": "0.01", "copy_sl_tp": "on", "auto_symbol_map": "on", "symbol_map": "XAUUSD=GOLD",
         "active": "on"},
    )  # fmt: skip
    first = signed_in.get("/copy").content.decode()
    second = signed_in.get("/copy").content.decode()

    assert created.status_code == 302
    key = shown_key(first)
    assert pair_by_key(key=key) == CopyPair.objects.get()
    assert key not in second and "Gold master" in second and "XAUUSD → GOLD" in second
    assert 'data-copy-target="#pair-key"' in first and "<script>" not in first


@pytest.mark.django_db
def test_a_cycle_or_a_foreign_account_is_refused_on_the_form(signed_in, paper, bob, alice):
    a, b = paper("Alpha"), paper("Beta")
    pair_create(owner=alice, master=a, slave=b)
    foreign = paper("Theirs", owner=bob)

    cycle = signed_in.post("/copy", {"master": b.pk, "slave": a.pk, "volume_mode": "fixed", "multiplier": "1",
                                   "fixed_volume": "0.01"})  # fmt: skip
    theirs = signed_in.post("/copy", {"master": a.pk, "slave": foreign.pk, "volume_mode": "fixed", "multiplier": "1",
                                    "fixed_volume": "0.01"})  # fmt: skip

    assert cycle.status_code == 400 and "Beta → Alpha → Beta" in cycle.content.decode()
    assert theirs.status_code == 400 and CopyPair.objects.count() == 1


@pytest.mark.django_db
def test_view_rotate_toggle_edit_and_delete(signed_in, paper, alice):
    made, key = pair_create(owner=alice, master=paper("M"), slave=paper("S"))

    viewed = signed_in.post(f"/copy/pairs/{made.pk}/key")
    signed_in.post(f"/copy/pairs/{made.pk}/rotate-key")
    rotated = shown_key(signed_in.get("/copy").content.decode())
    signed_in.post(f"/copy/pairs/{made.pk}/toggle")
    edited = signed_in.post(
        f"/copy/pairs/{made.pk}/edit",
        {"master": made.master_id, "slave": made.slave_id, "volume_mode": "fixed", "multiplier": "1",
         "fixed_volume": "0.20"},
    )  # fmt: skip
    made.refresh_from_db()
    edit_form = signed_in.get(f"/copy?edit={made.pk}").content.decode()
    works = pair_by_key(key=rotated)
    signed_in.post(f"/copy/pairs/{made.pk}/delete")

    assert shown_key(viewed.content.decode()) == key
    assert rotated != key and pair_by_key(key=key) is None and works == made
    assert edited.status_code == 302 and (made.volume_mode, str(made.fixed_volume)) == ("fixed", "0.20")
    assert made.active is False and made.copy_sl_tp is False  # an unticked box is off
    assert f"Edit pair {made.pk}" in edit_form
    assert not CopyPair.objects.exists()


@pytest.mark.django_db
def test_another_traders_pair_actions_are_404(paper, bob, alice):
    made, _ = pair_create(owner=alice, master=paper("M"), slave=paper("S"))
    client = Client()
    client.force_login(bob)

    answers = [client.post(f"/copy/pairs/{made.pk}/{action}").status_code for action in ("key", "toggle", "delete")]
    page = client.get(f"/copy?edit={made.pk}").content.decode()

    assert answers == [404, 404, 404]
    assert made.key_hint not in page and CopyPair.objects.get().active


@pytest.mark.django_db
def test_the_history_shows_each_slave_and_filters_errors(signed_in, paper, alice, trade):
    from tests.copytrading.conftest import drain_all

    master, good, bad = paper("M"), paper("Good"), paper("Bad", "SimBroker-Demo")
    _, key = pair_create(owner=alice, master=master, slave=good)
    pair_create(owner=alice, master=master, slave=bad)
    trade(key, master, event="deal_add", order_id="eth-1", symbol="ETHUSD", type="BUY", volume=0.1)
    drain_all()

    everything = signed_in.get("/copy").content.decode()
    errors = signed_in.get("/copy/history?status=error").content.decode()
    successes = signed_in.get("/copy/history?status=success").content.decode()

    assert everything.count("eth-1") == 2 and "ETHUSD is not offered" in everything
    assert "badge text-bg-danger" in errors and "eth-1" in errors
    assert "eth-1" in successes and "0.1 → 0.1" in successes
