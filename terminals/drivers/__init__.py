"""Which driver reaches an account's terminal, on the host that runs it."""

from terminals.models import TradingAccount

from .base import Driver, TerminalError


def driver_for_login(*, kind: str, login: str) -> Driver:
    """An unconnected driver for a login of this kind, on this host."""
    if kind == TradingAccount.Kind.SIMULATED:
        from .simulated import SimulatedDriver

        return SimulatedDriver()
    raise TerminalError(-7, f"No {kind} driver on this host")


def open_driver(account: TradingAccount) -> Driver:
    """A connected driver for the account; raises TerminalError when it cannot attach."""
    if account.kind == TradingAccount.Kind.SIMULATED:
        from terminals.gateway import simulated_driver

        return simulated_driver(account)
    raise TerminalError(-7, f"{account.get_kind_display()} terminals are driven on their Windows host")
