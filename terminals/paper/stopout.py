"""Stop-out: the trade server, not the trader, closes positions when the account's margin level
(equity / margin) falls below the server's stop-out level, the most losing position first, until
the level is back above it (or nothing is left to close). No order of ours causes it."""

from decimal import Decimal

from terminals.drivers.base import OrderType

from .book import Book
from .market import Market, market_open, quote
from .models import SimPosition


def margin_level(book: Book, market: Market) -> float | None:
    """Equity / margin in %, None with no margin used (no positions)."""
    margin = market.margin_used(book.positions, book.account.leverage)
    if not margin:
        return None
    equity = float(book.account.balance) + sum(market.profit(p) for p in book.positions)
    return equity / margin * 100


def stop_out_due(book: Book, market: Market) -> float | None:
    """The margin level when it is below the server's stop-out level, else None."""
    level = margin_level(book, market)
    if level is None or Decimal(str(level)) >= market.terms().stop_out_level:
        return None
    return level


def most_losing(book: Book, at: int, market: Market) -> tuple[SimPosition, float] | None:
    """The position with the lowest profit among those whose market is open, with the price it
    closes at; None when no market is open (the server waits for one, as MT5's does)."""
    open_now = [p for p in book.positions if market_open(market.spec(p.symbol).session, at)]
    if not open_now:
        return None
    worst = min(open_now, key=lambda p: (market.profit(p), p.pk))
    bid, ask = quote(market.spec(worst.symbol), at)
    return worst, bid if worst.type == OrderType.BUY else ask
