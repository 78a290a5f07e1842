"""Tasks that run on a host's own qcluster (`Q_CLUSTER_NAME=<queue> manage.py qcluster`).

Each returns ("ok", value) or ("error", code, message): a TerminalError crosses the queue
as data (gateway.host_call raises it again on the caller's side), never as a traceback.

Every task gateway.host_call sends (verify_credentials, terminal_read, instance_action)
takes `deadline` (epoch seconds): the moment its caller stops waiting. Work the host
reaches after it is refused with -10005 and "expired" before anything touches a terminal.
The host's clock and the caller's are assumed to agree (NTP); a skew of a few seconds
moves the cut-off by as much. account_drain and accounts_drain have none: nobody waits for
them, their orders wait in the database until the host gets to them.
"""

import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from mt5saas.crypto import decrypt

from . import instances
from .drivers import driver_for_login, instance_root, open_driver, this_host
from .drivers.base import TerminalError
from .drivers.ea_bridge import EABridgeDriver
from .gateway import READS, driver_read
from .models import TradingAccount
from .orders import drain
from .services import account_instance_removed

EXPIRED = -10005  # MT5's RES_E_INTERNAL_FAIL_TIMEOUT: the caller's wait is over


def _answer(work: Callable[[], object], deadline: float) -> tuple:
    if (late := time.time() - deadline) > 0:
        return ("error", EXPIRED, f"The request expired {late:.1f} s before this host reached it; it was not run")
    try:
        return ("ok", work())
    except TerminalError as error:
        return ("error", error.code, error.message)


def verify_credentials(kind: str, login: str, password_ciphertext: str, server: str, *, deadline: float) -> tuple:
    """Log in once with new credentials; the password crosses the queue encrypted."""

    def work():
        if kind == TradingAccount.Kind.EA_BRIDGE:
            return ea_bridge_log_in(login, decrypt(password_ciphertext), server, deadline=deadline)
        if kind == TradingAccount.Kind.MT5:
            _instance_ready(login)  # MT5 logs in through the account's own portable terminal
        driver = driver_for_login(kind=kind, login=login)
        try:
            return driver.connect(login=int(login), password=decrypt(password_ciphertext), server=server)
        finally:
            driver.shutdown()

    return _answer(work, deadline)


def ea_bridge_log_in(login: str, password: str, server: str, *, deadline: float, account_id: int | None = None):
    """Log the login's portable terminal in from a start-up configuration and wait for its EA
    to report it connected (terminals.drivers.ea_bridge, "Logging in"). `account_id`: the
    account being logged in, when it is already stored (the host agent's login)."""
    # The instance directory is per login: another registration's terminal would be restarted.
    if TradingAccount.objects.alive().filter(login=login, host=this_host()).exclude(pk=account_id).exists():
        raise TerminalError(-2, f"Login {login} already has a terminal on this host, for another server")
    _instance_ready(login)
    root = instance_root()
    login_timeout = settings.EA_LOGIN_TIMEOUT_S  # the task's deadline may leave less
    driver = EABridgeDriver(
        instances.instance_files_dir(root=root, login=login),
        instance=instances.instance_dir(root=root, login=login),
        # Waiting past the caller's deadline would log in an account nobody registers.
        login_timeout=max(0.0, min(login_timeout, deadline - time.time())),
    )
    try:
        return driver.connect(login=int(login), password=password, server=server)
    finally:
        driver.shutdown()


def terminal_read(account_id: int, method: str, kwargs: dict, *, deadline: float) -> tuple:
    if method not in READS:
        return ("error", -2, f"{method} is not a read")

    def work():
        account = TradingAccount.objects.get(pk=account_id)
        driver = open_driver(account)
        try:
            return driver_read(driver, method, kwargs)
        finally:
            driver.shutdown()

    return _answer(work, deadline)


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


def instance_action(account_id: int, action: str, *, deadline: float) -> tuple:
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
    return _answer(work, deadline)


def instance_remove(account_id: int) -> str:
    """Remove a deleted account's portable instance folder from this host, its terminal
    stopped first (terminals.services.account_delete queues this). The folder is kept when
    its login is registered on this host again meanwhile: it is that account's now. The
    outcome is recorded on the account (its status reason) and returned."""
    account = TradingAccount.objects.filter(pk=account_id, deleted_at__isnull=False).first()
    if account is None:
        return "not a deleted account: nothing removed"
    host = this_host()
    if TradingAccount.objects.alive().filter(login=account.login, host=host).exists():
        return f"login {account.login} is registered here again: its folder is kept"
    try:
        instances.instance_delete(root=instance_root(), login=account.login)
    except (TerminalError, instances.InstanceError, OSError) as error:
        reason = error.message if isinstance(error, TerminalError) else str(error)
        account_instance_removed(account=account, host=host, error=reason[:200])
        return f"not removed: {reason}"
    account_instance_removed(account=account, host=host)
    return "removed"


def account_drain(account_id: int) -> int:
    """Execute the account's waiting orders (see terminals.orders.drain)."""
    return drain.account_drain(account_id)


def accounts_drain(account_ids: list[int]) -> int:
    """Execute the waiting orders of several accounts, one account after the other (a fan-out's share)."""
    return drain.accounts_drain(account_ids)
