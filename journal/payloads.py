"""The journal's deals and trades as live events and API rows carry them: the contract's names,
Decimals as strings (money is never a float), times in ISO 8601."""

from datetime import datetime
from decimal import Decimal

from .models import Deal, Trade


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def deal_payload(deal: Deal) -> dict:
    return {
        "id": deal.pk,
        "ticket": deal.ticket,
        "account": deal.account_id,
        "time": _time(deal.time),
        "kind": deal.kind,
        "symbol": deal.symbol,
        "side": deal.side,
        "entry": deal.entry,
        "volume": _text(deal.volume),
        "price": _text(deal.price),
        "profit": _text(deal.profit),
        "commission": _text(deal.commission),
        "swap": _text(deal.swap),
        "fee": _text(deal.fee),
        "currency": deal.currency,
        "position": deal.position,
        "magic": deal.magic,
        "comment": deal.comment,
        "reason": deal.reason,
        "order": deal.order_id,
        "source": deal.source,
    }


def trade_payload(trade: Trade) -> dict:
    return {
        "id": trade.pk,
        "account": trade.account_id,
        "position": trade.position,
        "status": trade.status,
        "symbol": trade.symbol,
        "side": trade.side,
        "volume": _text(trade.volume),
        "closed_volume": _text(trade.closed_volume),
        "open_time": _time(trade.open_time),
        "open_price": _text(trade.open_price),
        "close_time": _time(trade.close_time),
        "close_price": _text(trade.close_price),
        "gross_profit": _text(trade.gross_profit),
        "profit": _text(trade.profit),
        "commission": _text(trade.commission),
        "swap": _text(trade.swap),
        "fee": _text(trade.fee),
        "currency": trade.currency,
        "pips": _text(trade.pips),
        "duration_s": trade.duration_s,
        "close_reason": trade.close_reason,
        "source": trade.source,
        "strategy": trade.strategy,
        "order": trade.order_id,
        "signal": trade.signal_id,
        "copy_pair": trade.copy_pair_id,
        "slippage_points": _text(trade.slippage_points),
    }
