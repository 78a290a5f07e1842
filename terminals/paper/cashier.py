"""Money in and out of a paper account, as a broker's back office books it: a BALANCE deal
(symbol "", volume 0, the amount in profit) and the balance changed with it, in one transaction."""

from collections.abc import Callable
from decimal import Decimal

from django.db import transaction

from terminals.drivers.base import DealEntry, DealReason, DealType

from . import market as paper_market
from .book import Writes, books_locked
from .market import Market
from .models import SimAccount, SimDeal
from .terms import CENT


class PaperRefused(ValueError):
    """The paper broker will not do it; the message says why, for people."""


def paper_account(server: str, login: int) -> SimAccount:
    account = SimAccount.objects.filter(server=server, login=int(login)).first()
    if account is None:
        raise PaperRefused(f"No paper account {login} on {server}")
    return account


def balance_operation(
    *, server: str, login: int, amount: Decimal, comment: str = "", clock: Callable[[], int] | None = None
) -> SimDeal:
    """Deposit (amount > 0) or withdraw (amount < 0) on a paper account; returns the BALANCE deal.
    A withdrawal larger than the free margin is refused, as a broker refuses it."""
    amount = Decimal(amount)
    if not amount.is_finite() or amount != amount.quantize(CENT) or not amount:
        raise PaperRefused("The amount must be a non-zero sum of money in cents")
    account_id = paper_account(server, login).pk
    market = Market(server, clock or paper_market.clock)
    with transaction.atomic():
        book = books_locked([account_id])[account_id]
        account = book.account
        if amount < 0:
            equity = account.balance + Decimal(str(round(sum(market.profit(p) for p in book.positions), 2)))
            free = equity - Decimal(str(round(market.margin_used(book.positions, account.leverage), 2)))
            if -amount > free:
                raise PaperRefused(f"Withdrawing {-amount} is more than the free margin of {free} {account.currency}")
        account.balance += amount
        deal = SimDeal(
            account=account,
            order=0,
            position_id=0,
            symbol="",
            type=DealType.BALANCE,
            entry=DealEntry.IN,
            volume=Decimal("0"),
            price=0.0,
            profit=amount,
            comment=(comment or ("Deposit" if amount > 0 else "Withdrawal"))[:31],
            time_msc=market.clock(),
            reason=DealReason.CLIENT,
        )
        writes = Writes()
        writes.accounts[account.pk] = account
        writes.deals.append(deal)
        writes.flush()
    return deal
