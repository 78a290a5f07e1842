"""Tasks that run on a host's own qcluster (`Q_CLUSTER_NAME=<queue> manage.py qcluster`).

Each returns ("ok", value) or ("error", code, message): a TerminalError crosses the queue
as data (gateway.host_call raises it again on the caller's side), never as a traceback.
"""

from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from mt5saas.crypto import decrypt

from . import instances
from .drivers import driver_for_login, instance_root, open_driver
from .drivers.base import TerminalError
from .gateway import READS
from .models import TradingAccount


def _answer(work: Callable[[], object]) -> tuple:
    try:
        return ("ok", work())
    except TerminalError as error:
        return ("error", error.code, error.message)


def verify_credentials(kind: str, login: str, password_ciphertext: str, server: str) -> tuple:
    """Log in once with new credentials; the password crosses the queue encrypted."""

    def work():
        if kind == TradingAccount.Kind.MT5:
            _instance_ready(login)  # MT5 logs in through the account's own portable terminal
        driver = driver_for_login(kind=kind, login=login)
        try:
            return driver.connect(login=int(login), password=decrypt(password_ciphertext), server=server)
        finally:
            driver.shutdown()

    return _answer(work)


def terminal_read(account_id: int, method: str, kwargs: dict) -> tuple:
    if method not in READS:
        return ("error", -2, f"{method} is not a read")

    def work():
        account = TradingAccount.objects.get(pk=account_id)
        driver = open_driver(account)
        try:
            return getattr(driver, method)(**kwargs)
        finally:
            driver.shutdown()

    return _answer(work)


def _instance_ready(login: str) -> None:
    """Create the login's portable instance from the installation if it does not exist yet."""
    root = instance_root()
    try:
        if not instances.instance_status(root=root, login=login).exists:
            profile = Path(settings.MT5_PROFILE_SOURCE) if settings.MT5_PROFILE_SOURCE else None
            instances.instance_create(
                root=root, login=login, mt5_install=Path(settings.MT5_INSTALL_DIR), profile_source=profile
            )
    except instances.InstanceError as error:
        raise TerminalError(-1, str(error)) from None


def instance_action(account_id: int, action: str) -> tuple:
    """Start, stop or restart the account's portable terminal on this host (created on first start)."""

    def work():
        account = TradingAccount.objects.get(pk=account_id)
        root = instance_root()
        try:
            if action == "stop":
                return instances.instance_stop(root=root, login=account.login)
            _instance_ready(account.login)
            if action == "restart":
                return instances.instance_restart(root=root, login=account.login)
            return instances.instance_start(root=root, login=account.login)
        except instances.InstanceError as error:
            raise TerminalError(-1, str(error)) from None

    if action not in ("start", "stop", "restart"):
        return ("error", -2, f"unknown action {action!r}")
    return _answer(work)


def account_drain(account_id: int) -> int:
    """Execute the account's waiting orders (see terminals.execution)."""
    from .execution import account_drain as drain

    return drain(account_id)
