"""The MetaTrader5 driver on Linux: the fake MetaTrader5 module, ready to drive.

Needs Django's database (the fake trades on the simulated paper broker), so call it from a
test that has the `db` fixture. The fake is a per-process singleton like the real module:
every driver in one process shares its one attached terminal, and mt5_driver() resets it.
"""

import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from terminals.drivers.mt5 import MetaTrader5Driver

FAKES = str(Path(__file__).resolve().parent)


def fake_mt5() -> ModuleType:
    """The fake MetaTrader5 module, imported from tests/fakes whatever else is installed."""
    if FAKES not in sys.path:
        sys.path.insert(0, FAKES)
    module = importlib.import_module("MetaTrader5")
    if not hasattr(module, "_fail_next"):
        raise RuntimeError(f"the real MetaTrader5 module was imported from {module.__file__}, not the fake")
    return module


def mt5_driver(
    *,
    login: int = 7001,
    password: str = "paper-pass",
    server: str = "SimBroker-Demo",
    path: str | None = None,
    clock: Callable[[], int] | None = None,
) -> MetaTrader5Driver:
    """A MetaTrader5Driver connected to a fresh fake terminal; clock() is the broker's epoch ms."""
    fake_mt5()._reset(clock=clock)
    driver = MetaTrader5Driver(path=path)
    driver.connect(login=login, password=password, server=server)
    return driver
