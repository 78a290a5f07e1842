"""Which driver reaches an account's terminal, on the host that runs it."""

import os
from pathlib import Path

from terminals.models import TerminalHost, TradingAccount

from .base import Driver, TerminalError


def this_host() -> TerminalHost:
    """The host this process serves: its qcluster runs with Q_CLUSTER_NAME=<queue>."""
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


def driver_for_login(*, kind: str, login: str) -> Driver:
    """An unconnected driver for a login of this kind, on this host."""
    if kind == TradingAccount.Kind.SIMULATED:
        from .simulated import SimulatedDriver

        return SimulatedDriver()
    if kind == TradingAccount.Kind.EA_BRIDGE:
        from terminals.instances import instance_files_dir

        from .ea_bridge import EABridgeDriver

        return EABridgeDriver(instance_files_dir(root=instance_root(), login=login))
    raise TerminalError(-7, f"No {kind} driver on this host")


def open_driver(account: TradingAccount) -> Driver:
    """A connected driver for the account; raises TerminalError when it cannot attach."""
    if account.kind == TradingAccount.Kind.SIMULATED:
        from terminals.gateway import simulated_driver

        return simulated_driver(account)
    from mt5saas.crypto import decrypt

    driver = driver_for_login(kind=account.kind, login=account.login)
    driver.connect(login=int(account.login), password=decrypt(account.password), server=account.server)
    return driver
