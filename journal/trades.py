"""Trades from deals: each position's stored deals replayed in (time, ticket) order whenever new
ones arrive, so a deal that comes late or out of order lands where it belongs. The replay's
trades are matched to the stored ones of the position by their order, and updated in place."""

from collections import defaultdict
from decimal import Decimal

from mt5saas.db import row_new, rows_insert, rows_update

from .attribution import copy_pairs, slippage_points
from .models import Deal, Source, Trade

TRADES = (Deal.Kind.BUY, Deal.Kind.SELL)
CHUNK = 5000  # positions per query
FIELDS = [
    "open_deal", "status", "symbol", "side", "volume", "closed_volume", "open_time", "open_price", "close_time",
    "close_price", "gross_profit", "commission", "swap", "fee", "profit", "pips", "duration_s", "close_reason",
    "source", "strategy", "order", "signal", "copy_pair", "slippage_points",
]  # fmt: skip


def point_of(digits: int | None) -> Decimal | None:
    return Decimal(1).scaleb(-digits) if digits is not None else None


def pip_of(digits: int | None) -> Decimal | None:
    """A pip is 10 points on 3- and 5-digit symbols, one point otherwise (as orders read "sl_pips")."""
    point = point_of(digits)
    return point * 10 if point is not None and digits in (3, 5) else point


class Replay:
    """The trades of one position as its deals tell them, oldest first."""

    def __init__(self, account, position: int) -> None:
        self.account, self.position = account, position
        self.trades: list[Trade] = []
        self.open: Trade | None = None
        self.known_open: dict[int, bool] = {}  # id(trade) → its opening deal was seen

    def apply(self, deal: Deal) -> None:
        if deal.entry == Deal.Entry.IN:
            self._add(deal, deal.volume)
        elif deal.entry in (Deal.Entry.OUT, Deal.Entry.OUT_BY):
            self._close(deal, deal.volume)
        elif deal.entry == Deal.Entry.INOUT:
            # A netting reverse: what was open closes, the rest opens the next trade.
            left = self.open.volume - self.open.closed_volume if self.open else deal.volume
            self._close(deal, left)
            if (rest := deal.volume - left) > 0:
                self._start(deal, rest)

    def _start(self, deal: Deal, volume: Decimal, *, seen: bool = True, side: str = "") -> Trade:
        trade = row_new(
            Trade, owner_id=deal.owner_id, account_id=deal.account_id, position=self.position, open_deal=deal.ticket,
            symbol=deal.symbol, side=side or deal.side, volume=volume, open_time=deal.time, open_price=deal.price,
            currency=deal.currency, source=deal.source, order_id=deal.order_id,
        )  # fmt: skip
        if deal.order_id is not None:
            trade.order = deal.order  # the instance in hand: _finish reads it
        self.known_open[id(trade)] = seen
        self.trades.append(trade)
        self.open = trade
        return trade

    def _add(self, deal: Deal, volume: Decimal) -> None:
        trade = self.open
        if trade is None:
            self._start(deal, volume)
            self._costs(self.open, deal)
            return
        # Netting: an addition averages the open price over the volumes.
        total = trade.volume + volume
        trade.open_price = (trade.open_price * trade.volume + deal.price * volume) / total
        trade.volume = total
        self._costs(trade, deal)

    def _close(self, deal: Deal, volume: Decimal) -> None:
        trade = self.open
        if trade is None:
            # Its opening is before the history read: what the close tells, no open price of its own.
            trade = self._start(deal, volume, seen=False, side="sell" if deal.side == "buy" else "buy")
            trade.source, trade.order = Source.OUTSIDE, None
        before = trade.closed_volume
        trade.closed_volume = min(trade.volume, before + volume)
        done = trade.closed_volume - before
        if done > 0:
            earlier = (trade.close_price or Decimal(0)) * before
            trade.close_price = (earlier + deal.price * done) / trade.closed_volume
        trade.gross_profit += deal.profit
        self._costs(trade, deal)
        trade.close_time, trade.close_reason = deal.time, deal.reason
        if trade.closed_volume >= trade.volume:
            trade.status, self.open = Trade.Status.CLOSED, None

    @staticmethod
    def _costs(trade: Trade, deal: Deal) -> None:
        trade.commission += deal.commission
        trade.swap += deal.swap
        trade.fee += deal.fee


def _finish(trade: Trade, seen: bool, digits: int | None, pairs: dict[int, int]) -> None:
    trade.profit = trade.gross_profit + trade.commission + trade.swap + trade.fee
    trade.open_price = trade.open_price.quantize(Decimal("1e-8"))
    if trade.close_price is not None:
        trade.close_price = trade.close_price.quantize(Decimal("1e-8"))
    order = trade.order
    trade.signal_id = order.signal_id if order else None
    trade.strategy = order.comment[:100] if order else ""
    trade.copy_pair_id = pairs.get(order.pk) if order else None
    if digits is None and order is not None:
        digits = order.digits
    trade.slippage_points = slippage_points(order, trade.side, trade.open_price, point_of(digits)) if seen else None
    closed = trade.status == Trade.Status.CLOSED
    pip = pip_of(digits)
    if closed and seen and pip:
        moved = trade.close_price - trade.open_price
        trade.pips = ((moved if trade.side == "buy" else -moved) / pip).quantize(Decimal("0.1"))
    else:
        trade.pips = None
    trade.duration_s = int((trade.close_time - trade.open_time).total_seconds()) if closed and seen else None


def _chunks(keys: set[tuple[int, int]]) -> list[tuple[set[int], set[int], set[tuple[int, int]]]]:
    """(accounts, positions, keys) per CHUNK of (account, position) keys: bounded IN lists."""
    ordered = sorted(keys)
    parts = [set(ordered[start : start + CHUNK]) for start in range(0, len(ordered), CHUNK)]
    return [({a for a, _ in part}, {p for _, p in part}, part) for part in parts]


def _stored_trades(keys: set[tuple[int, int]]) -> dict[tuple[int, int], list[Trade]]:
    stored: dict[tuple[int, int], list[Trade]] = defaultdict(list)
    for accounts, positions, part in _chunks(keys):
        rows = Trade.objects.filter(account_id__in=accounts, position__in=positions).order_by("open_time", "pk")
        for trade in rows:
            if (trade.account_id, trade.position) in part:
                stored[(trade.account_id, trade.position)].append(trade)
    return stored


def _history(deals: list[Deal], keys: set[tuple[int, int]], stored: dict) -> dict[tuple[int, int], list[Deal]]:
    """Each position's deals in (time, ticket) order. A stored buy or sell deal with a position
    always has its trade, so a position without a stored trade has only the new deals (in
    hand); the others' deals, new ones included, are read back."""
    history: dict[tuple[int, int], list[Deal]] = defaultdict(list)
    for deal in sorted(deals, key=lambda d: (d.time_msc, d.ticket)):
        if (key := (deal.account_id, deal.position)) in keys and key not in stored:
            history[key].append(deal)
    for accounts, positions, part in _chunks(set(stored)):
        rows = Deal.objects.filter(account_id__in=accounts, position__in=positions, kind__in=TRADES)
        for deal in rows.select_related("order").order_by("time_msc", "ticket"):
            if (key := (deal.account_id, deal.position)) in part:
                history[key].append(deal)
    return history


def trades_rebuild(deals: list[Deal], digits: dict[tuple[int, str], int]) -> tuple[list[Trade], list[Trade]]:
    """Rebuild the trades of the positions these new (stored) deals touch; returns (trades
    written, trades that became closed). `digits`: (account id, symbol) → the symbol's digits,
    where known."""
    keys = {(d.account_id, d.position) for d in deals if d.kind in TRADES and d.position}
    if not keys:
        return [], []
    stored = _stored_trades(keys)
    replays = []
    for (account_id, position), found in _history(deals, keys, stored).items():
        replay = Replay(account_id, position)
        for deal in found:
            replay.apply(deal)
        replays.append(replay)
    pairs = copy_pairs({t.order for r in replays for t in r.trades if t.order is not None})
    return _write(replays, stored, digits, pairs)


def _write(replays: list[Replay], stored: dict, digits: dict, pairs: dict) -> tuple[list[Trade], list[Trade]]:
    created, updated, closed = [], [], []
    for replay in replays:
        before = stored.get((replay.account, replay.position), [])
        for index, trade in enumerate(replay.trades):
            _finish(trade, replay.known_open[id(trade)], digits.get((trade.account_id, trade.symbol)), pairs)
            old = before[index] if index < len(before) else None
            if old is None:
                created.append(trade)
            else:
                trade.pk = old.pk
                if all(
                    getattr(old, f"{f}_id" if f in ("order", "signal", "copy_pair") else f)
                    == getattr(trade, f"{f}_id" if f in ("order", "signal", "copy_pair") else f)
                    for f in FIELDS
                ):
                    continue  # fmt: skip
                updated.append(trade)
            if trade.status == Trade.Status.CLOSED and (old is None or old.status != Trade.Status.CLOSED):
                closed.append(trade)
    rows_update(updated, FIELDS)
    rows_insert(created)
    return created + updated, closed
