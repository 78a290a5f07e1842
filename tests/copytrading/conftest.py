import json
from collections.abc import Callable

import pytest
from django.dispatch import Signal
from django.test import Client

from terminals import gateway
from terminals.models import Order, TradingAccount
from terminals.orders.drain import accounts_drain
from terminals.services import account_connect
from tests.terminals.clocks import Clock, paper_terminals_on


@pytest.fixture(autouse=True)
def open_market(monkeypatch):
    """Every simulated terminal at Wednesday noon: gold and indices trade whatever day the suite runs."""
    paper_terminals_on(Clock(), monkeypatch)


_logins = iter(range(7_100_000, 7_200_000))


@pytest.fixture
def paper(alice):
    """Alice's simulated accounts: name → account. 'std' accounts list XAUUSD/US30, 'brk' GOLD/US30.cash."""

    def make(nickname: str, server: str = "SimStandard-Demo", owner=None) -> TradingAccount:
        return account_connect(
            owner=owner or alice, login=str(next(_logins)), password="pw", server=server, kind="simulated",
            nickname=nickname,
        )  # fmt: skip

    return make


def drain_all() -> None:
    """Run every account's queue until nothing waits, as a fan-out's drain does (one round of
    the accounts' first orders, then the rest): copies that fill queue their cascades."""
    for _ in range(10):
        waiting = set(Order.objects.filter(status__in=["queued", "sending"]).values_list("account_id", flat=True))
        if not waiting:
            return
        accounts_drain(sorted(waiting))
    raise AssertionError("orders still waiting after 10 rounds")


def positions(account):
    return gateway.simulated_driver(account).positions()


@pytest.fixture
def trade():
    def send(key: str | None, account: TradingAccount | str, *, headers: dict | None = None, **body):
        payload = {"api_key": key, "account": getattr(account, "login", account), **body}
        if key is None:
            payload.pop("api_key")
        return Client().post(
            "/api/copy/trade", json.dumps(payload), content_type="application/json", headers=headers or {}
        )

    return send


class Hooks:
    """Receivers of copytrading.hooks for one test: `hook(signal, receiver)` connects one,
    `hook.undo()` disconnects them all (done at the end of the test anyway)."""

    def __init__(self) -> None:
        self.connected: list[tuple[Signal, Callable]] = []

    def __call__(self, signal: Signal, receiver: Callable) -> None:
        signal.connect(receiver, weak=False)
        self.connected.append((signal, receiver))

    def undo(self) -> None:
        while self.connected:
            signal, receiver = self.connected.pop()
            signal.disconnect(receiver)


@pytest.fixture
def hook():
    hooks = Hooks()
    yield hooks
    hooks.undo()
