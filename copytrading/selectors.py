"""Reads of copy trading."""

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from .models import CopyEvent, CopyExecution


def history_list(
    *, user, status: str | None = None, master: int | None = None, symbol: str = ""
) -> QuerySet[CopyEvent]:
    """The user's copy events shown (not cleared), newest first, each with its slaves' results.
    `status` keeps events with a slave result of that status (error: or an event-level error);
    `symbol` is the master's, in any case."""
    events = CopyEvent.objects.owned_by(user).filter(hidden_at__isnull=True)
    if master:
        events = events.filter(master_id=master)
    if symbol:
        events = events.filter(symbol__iexact=symbol)
    if status:
        with_status = CopyExecution.objects.filter(event=OuterRef("pk"), status=status)
        condition = Exists(with_status)
        if status == "error":
            condition |= Q(status=CopyEvent.Status.ERROR)
        elif status == "skipped":
            condition |= Q(status=CopyEvent.Status.SKIPPED)
        events = events.filter(condition)
    executions = CopyExecution.objects.select_related("slave", "order").order_by("pk")
    return (
        events.select_related("master")
        .prefetch_related(Prefetch("executions", queryset=executions))
        .order_by("-received_at", "-pk")
    )
