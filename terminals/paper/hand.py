"""Trades made on a paper account by a person, in the desktop terminal, the phone app or the web
terminal, not sent by the service: their orders and deals carry reason CLIENT, MOBILE or WEB, as
MT5 records them, and the service learns of them only from the account's history."""

from collections.abc import Callable

from django.db import transaction

from terminals.drivers.base import DealReason, OrderRequest, OrderResult

from . import market as paper_market
from .book import books_locked
from .cashier import PaperRefused, paper_account
from .market import Market
from .trade import trade_together

BY_HAND = (DealReason.CLIENT, DealReason.MOBILE, DealReason.WEB)


def hand_trade(
    *,
    server: str,
    login: int,
    request: OrderRequest,
    reason: int = DealReason.CLIENT,
    clock: Callable[[], int] | None = None,
) -> OrderResult:
    """Carry out `request` on the account as a person at `reason`'s terminal would; the server's
    answer (its retcode) whatever it is. No password: the person is logged in already."""
    if reason not in BY_HAND:
        raise PaperRefused("A hand trade comes from the desktop terminal, the phone or the web terminal")
    account_id = paper_account(server, login).pk
    market = Market(server, clock or paper_market.clock)
    with transaction.atomic():
        book = books_locked([account_id])[account_id]
        [result] = trade_together([(book, request, market)], reason=reason)
    return result
