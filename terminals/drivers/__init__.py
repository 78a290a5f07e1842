"""Which driver reaches an account's terminal, on the host that runs it.

No model import at module level: drivers.base must import before Django is set up (a
terminal session process imports it first), so what reads models is imported where it is used.
"""

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from django.conf import settings

from mt5saas.crypto import decrypt
from terminals.instances import EXECUTABLE, instance_dir, instance_files_dir

from .base import Driver, OrderRequest, OrderResult, TerminalError
from .ea_bridge import EABridgeDriver
from .ea_protocol import LINK_PREFIX
from .mt5 import MetaTrader5Driver

if TYPE_CHECKING:
    from terminals.sessions.registry import SessionRegistry

# Set only in the host agent, the one process that owns its host's sessions.
_sessions: "SessionRegistry | None" = None


def this_host():
    """The host this process serves: its qcluster runs with Q_CLUSTER_NAME=<queue>."""
    from terminals.models import TerminalHost  # app loading: see the module's docstring

    queue = os.environ.get("Q_CLUSTER_NAME", "")
    host = TerminalHost.objects.filter(queue_name=queue).first() if queue else None
    if host is None:
        raise TerminalError(-7, "This process is not a registered host (set Q_CLUSTER_NAME, run register_host)")
    return host


def instance_root() -> Path:
    root = this_host().instance_root
    if not root:
        raise TerminalError(-7, "The host has no instance root: register_host --instance-root …")
    return Path(root)


def terminal_in_database(kind: str) -> bool:
    """Whether terminals of this kind keep their state in this database (the paper broker): any
    worker reaches them, what a worker that died mid-call left unfinished was rolled back with
    it, and orders of many of them go out in one transaction (Driver.order_send_many)."""
    return kind == "simulated"


@contextmanager
def read_at_once(accounts: Iterable) -> Iterator[None]:
    """The terminals of these accounts read at once where their kind allows (the paper broker:
    three queries for all of them); a driver opened inside for one of them takes that reading
    for its log-in and its first account_info()."""
    from terminals.paper.book import read_together  # it imports models: not before Django is set up

    with read_together((account.server, account.login) for account in accounts if terminal_in_database(account.kind)):
        yield


def driver_for_login(*, kind: str, login: str) -> Driver:
    """An unconnected driver for a login of this kind, on this host."""
    if kind == "simulated":
        from terminals.paper.driver import SimulatedDriver  # app loading: it reads models

        return SimulatedDriver()
    if kind == "ea_bridge":
        return EABridgeDriver(instance_files_dir(root=instance_root(), login=login))
    if kind == "mt5":
        return MetaTrader5Driver(path=str(instance_dir(root=instance_root(), login=login) / EXECUTABLE))
    raise TerminalError(-7, f"No {kind} driver on this host")


@contextmanager
def owning_sessions(registry: "SessionRegistry") -> Iterator[None]:
    """Inside, this process owns the host's sessions (the host agent): open_driver takes them
    from `registry`. On leaving, every session in it stops."""
    global _sessions
    _sessions = registry
    try:
        yield
    finally:
        _sessions = None
        registry.stop_all()


def host_queue() -> str:
    """The queue of the host this process serves; the default cluster's when unset."""
    return os.environ.get("Q_CLUSTER_NAME") or settings.Q_CLUSTER["name"]


def open_driver(account) -> Driver:
    """A connected driver for the account; raises TerminalError when it cannot attach.

    An MT5 account is reached through its session process, which stays attached to the
    terminal: the caller's shutdown() releases only its connection. The host agent owns the
    sessions; any other process asks the agent's directory and never starts one itself, so
    without a running agent this raises TerminalError(-10004).
    """
    # App loading: both read models (the gateway, and the sessions' registry behind the directory).
    from terminals.gateway import simulated_driver
    from terminals.sessions.directory import directory_session

    if account.kind == "simulated":
        return simulated_driver(account)
    if account.kind == "mt5":
        if _sessions is not None:
            return _sessions.session(account.pk).client.fresh()
        return directory_session(host_queue(), account.pk)
    driver = driver_for_login(kind=account.kind, login=account.login)
    driver.connect(login=int(account.login), password=decrypt(account.password), server=account.server)
    return driver


def order_send_for(driver: Driver, request: OrderRequest, *, link: str, requested_symbol: str) -> OrderResult:
    """driver.order_send for an order: to an EA bridge terminal a copy (an order with a
    COPY_ link) goes out as a slave command carrying its master's order id, every other
    order as a webhook command (docs/ea-protocol.md); other drivers take the request alone."""
    if not isinstance(driver, EABridgeDriver):
        return driver.order_send(request)
    copy_order_id = link.removeprefix(LINK_PREFIX) if link.startswith(LINK_PREFIX) else ""
    return driver.order_send(
        request,
        kind="slave" if copy_order_id else "webhook",
        copy_order_id=copy_order_id,
        original_symbol=requested_symbol,
    )
