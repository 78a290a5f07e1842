"""Registering MT5 accounts: credentials proven by logging in on the account's host before anything
is stored, accounts imported from the single-user bot completed rather than doubled, and the demo's
paper accounts."""

import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction

from mt5saas.crypto import encrypt

from .account_lifecycle import account_switch
from .account_status import account_info_apply, account_status_record
from .drivers.base import AccountInfo, TerminalError
from .errors import AccountError
from .gateway import HOST_TIMEOUT_S, host_call
from .hosts import host_pick
from .models import LOGIN_MESSAGE, LOGIN_PATTERN, SimAccount, TerminalHost, TradingAccount
from .paper.driver import SimulatedDriver
from .paper.market import SERVERS
from .retcodes import retcode_text

Status = TradingAccount.Status
DEMO_SERVERS = ("SimBroker-Demo", "SimStandard-Demo")


@dataclass(frozen=True)
class Credentials:
    login: str
    password: str
    server: str


def credentials_verify(*, host: TerminalHost, kind: str, credentials: Credentials) -> AccountInfo:
    """Log in on the account's host to prove the credentials; raises TerminalError."""
    if host.kind == TerminalHost.Kind.SIMULATED:
        driver = SimulatedDriver()
        try:
            return driver.connect(
                login=int(credentials.login), password=credentials.password, server=credentials.server
            )
        finally:
            driver.shutdown()
    # A Windows host's terminals are reached through its queue. An EA bridge login restarts the
    # terminal and waits for its EA: give it that long.
    login_wait = settings.EA_LOGIN_TIMEOUT_S + 15 if kind == TradingAccount.Kind.EA_BRIDGE else HOST_TIMEOUT_S
    return host_call(
        host,
        "terminals.tasks.verify_credentials",
        kind,
        credentials.login,
        encrypt(credentials.password),
        credentials.server,
        timeout=login_wait,
    )


def account_connect(
    *,
    owner,
    login: str,
    password: str,
    server: str,
    kind: str,
    broker: str = "",
    nickname: str = "",
    is_demo: bool = True,
    make_current: bool = False,
) -> TradingAccount:
    """Register an MT5 account: assign a host, log in there, store it online; `make_current`
    makes it the owner's current account too.

    Wrong credentials raise AccountError with MT5's reason and store nothing. With no
    online host the account is stored `unassigned` with the reason, and connects when a
    host comes up.
    """
    if TradingAccount.objects.alive().filter(server=server, login=login).exists():
        raise AccountError("This MT5 account is already registered.", field="login")
    host = host_pick(kind=kind)
    info = None
    if host is not None:
        try:
            info = credentials_verify(host=host, kind=kind, credentials=Credentials(login, password, server))
        except TerminalError as error:
            raise AccountError(f"MT5 refused the login: {error.message} ({retcode_text(error.code)})") from None
    # An account imported from the single-user bot (no server yet) is completed, not doubled:
    # its pairs, mappings and history stay with it.
    imported = TradingAccount.objects.owned_by(owner).alive().filter(login=login, server="").first()
    account = imported or TradingAccount(owner=owner, login=login)
    account.server, account.kind, account.is_demo = server, kind, is_demo
    account.broker = broker or account.broker
    account.nickname = nickname or account.nickname
    account.password, account.status_reason = encrypt(password), ""
    account.host = host
    account.logged_in_host = host if info is not None and kind == TradingAccount.Kind.EA_BRIDGE else None
    if info is None:
        account.status = Status.UNASSIGNED
        account.status_reason = f"No online {kind} host has room; the account connects when one does."
    else:
        account.status = Status.ONLINE
        account_info_apply(account, info)
        if kind == TradingAccount.Kind.SIMULATED:
            account.symbols = list(SERVERS[server])
    try:
        with transaction.atomic():
            account.save()
            account_status_record(account, account.status, account.status_reason)
    except IntegrityError:
        # Another request registered the same login between the check and the insert.
        raise AccountError("This MT5 account is already registered.", field="login") from None
    if make_current:
        account_switch(account=account)
    return account


def account_import(*, owner, login: str, nickname: str = "", broker: str = "") -> tuple[TradingAccount, bool]:
    """The owner's live account with this login, or a new EA bridge account for it from the
    single-user bot (which kept no server or password): stored `stopped` with a reason, so
    nothing is traded on it until it is connected. Returns (account, created).

    Raises AccountError for a login that is not an MT5 login or that another user registered.
    """
    if not re.fullmatch(LOGIN_PATTERN, login):
        raise AccountError(f"{login[:30]!r} is not an MT5 login ({LOGIN_MESSAGE})", field="login")
    live = TradingAccount.objects.alive().filter(login=login)
    if live.exclude(owner=owner).exists():
        raise AccountError(f"MT5 account {login} is registered by another user.", field="login")
    if (account := live.filter(owner=owner).order_by("pk").first()) is not None:
        return account, False
    account = TradingAccount(
        owner=owner,
        login=login,
        server="",
        kind=TradingAccount.Kind.EA_BRIDGE,
        broker=broker[:100],
        nickname=nickname[:60],
        status=Status.STOPPED,
        status_reason="Imported from the single-user bot: connect it with its server and password to trade.",
    )
    with transaction.atomic():
        account.save()
        account_status_record(account, account.status, account.status_reason)
    return account, True


def demo_accounts(*, owner, count: int) -> list[dict]:
    """The owner's simulated accounts for `manage.py demo`: reused when they exist, created
    (alternating between the two simulated brokers) up to `count`."""
    existing = list(TradingAccount.objects.owned_by(owner).alive().filter(kind=TradingAccount.Kind.SIMULATED))
    for index in range(len(existing), count):
        server = DEMO_SERVERS[index % len(DEMO_SERVERS)]
        # Logins derived from the owner keep reruns and other demo users apart.
        login = str(90_000_000 + owner.pk * 100 + index)
        password = secrets.token_urlsafe(12)
        SimAccount.objects.filter(server=server, login=int(login)).delete()
        existing.append(
            account_connect(
                owner=owner,
                login=login,
                password=password,
                server=server,
                kind="simulated",
                nickname=f"Paper {index + 1}",
            )
        )
    return [
        {"id": a.pk, "login": a.login, "server": a.server, "symbols": list(SERVERS[a.server])} for a in existing[:count]
    ]
