"""Copy events as the live feed (`copy_event`, docs/live-events.md) and the history show them."""

from decimal import Decimal

from mt5saas.display import lots_text

from .models import CopyEvent, CopyExecution


def copy_event_payload(row: CopyEvent, executions: list[CopyExecution]) -> dict:
    """The live `copy_event`: the event with the given executions (all of them when it is
    received, then each slave's as it settles)."""
    items = [execution_payload(e) for e in executions]
    return {
        "id": row.pk,
        "event": row.kind,
        "master": row.master_id,
        "order_id": row.order_id,
        "symbol": row.symbol,
        "status": row.status,
        "reason": row.reason,
        "pairs_processed": row.pairs_processed,
        "executions": items,
    }


def execution_payload(execution: CopyExecution) -> dict:
    """An execution as the live event and the history show it."""
    done = execution.done_at
    return {
        "id": execution.pk,
        "pair": execution.pair_id,
        "slave": execution.slave_id,
        "order": execution.order_id,
        "status": execution.status,
        "error": execution.error,
        "symbol": execution.symbol,
        "master_volume": _lots(execution.master_volume),
        "volume_before": _lots(execution.volume_before),
        "volume_after": _lots(execution.volume_after),
        "latency_ms": None if done is None else round((done - execution.created_at).total_seconds() * 1000, 1),
    }


def _lots(value: Decimal | None) -> str | None:
    return None if value is None else lots_text(value)
