"""Reaching an account's terminal from anywhere: in process for simulated accounts, through
the host's queue for terminals that run on a Windows host."""

import time
from dataclasses import asdict

from django_q.tasks import async_task, fetch

from mt5saas.crypto import decrypt

from .drivers.base import Driver, TerminalError
from .models import TerminalHost, TradingAccount
from .paper.driver import SimulatedDriver

# Read-only calls a web request may make; trading goes through the order pipeline.
READS = frozenset({"account_info", "symbols", "symbol_info", "symbol_infos", "tick", "positions", "orders"})
HOST_TIMEOUT_S = 20


def simulated_driver(account: TradingAccount) -> Driver:
    """The account's paper terminal, logged in."""
    driver = SimulatedDriver()
    driver.log_in(login=int(account.login), password=decrypt(account.password), server=account.server)
    return driver


def host_task_enqueue(host: TerminalHost, function: str, *args, task_name: str, **kwargs) -> str:
    """Queue a task for the host's own qcluster (its queue is the cluster's name); returns the
    task's id. The one caller of async_task for host work; orders have the order engine's queue."""
    return async_task(function, *args, cluster=host.queue_name, task_name=task_name, **kwargs)


def host_call(host: TerminalHost, function: str, *args, timeout: float = HOST_TIMEOUT_S):
    """Run a task on the host's own qcluster and wait for its answer.

    Host tasks return ("ok", value) or ("error", code, message) so that a TerminalError
    crosses the queue as data, not as a traceback. The task gets `deadline` (epoch
    seconds): when this call stops waiting. A host that reaches the task later does not
    run it, so a Start the user was told timed out never happens minutes afterwards.
    """
    deadline = time.time() + timeout
    task_id = host_task_enqueue(host, function, *args, deadline=deadline, task_name=f"{function}@{host.queue_name}")
    outcome = fetch(task_id, wait=int(timeout * 1000))
    if outcome is None:
        raise TerminalError(-10005, f"Host {host.name} did not answer within {timeout:g} s")
    if not outcome.success:
        raise TerminalError(-1, f"Host {host.name} failed to run the request")
    status, *rest = outcome.result
    if status != "ok":
        raise TerminalError(*rest)
    return rest[0]


def terminal_read(account: TradingAccount, method: str, **kwargs):
    """A read from the account's terminal; raises TerminalError when it cannot answer."""
    if method not in READS:
        raise ValueError(f"{method} is not a read")
    if account.kind == TradingAccount.Kind.SIMULATED:
        driver = simulated_driver(account)
        try:
            return driver_read(driver, method, kwargs)
        finally:
            driver.shutdown()
    if account.host is None or not account.host.online:
        raise TerminalError(-10004, "The account's host is offline")
    return host_call(account.host, "terminals.tasks.terminal_read", account.pk, method, kwargs)


def driver_read(driver, method: str, kwargs: dict):
    """One of READS on an open driver, or on a terminal session's client shaped like one."""
    if method == "symbol_infos" and not isinstance(driver, Driver):
        # A session client has no symbol_infos: the spec's name-by-name default, still in one host task.
        return Driver.symbol_infos(driver, **kwargs)
    return getattr(driver, method)(**kwargs)


def as_dicts(items) -> list[dict]:
    return [asdict(item) for item in items]
