"""A stored master event becoming one order per active pair of its master (a close or modify:
one per slave position linked to the master's order), or each pair's reason why not.

A netting master has one position per symbol: a deal_add of an order it still has open is an
addition, which each slave copies by the pair's rule into its linked position (a netting slave's
order joins it; a hedging slave's opens a second position, linked to the same master order, so
closes and modifies reach both)."""

from decimal import Decimal

from django.utils import timezone

from mt5saas.db import rows_update
from mt5saas.display import lots_text
from terminals.models import Order, TradingAccount
from terminals.selectors import symbol_mappings_read
from terminals.services import close_fraction

from . import hooks
from .events import MasterEvent
from .models import CopyEvent, CopyExecution, CopyLink, CopyPair
from .slave_orders import SlaveCannotCopy, addition_order, close_order, modify_order, open_order, pair_symbol

# What the fan-out makes for one pair: an execution, the order it sends (None: not copied), a new link.
Planned = tuple[CopyExecution, Order | None, CopyLink | None]


class NothingToCopy(Exception):
    """This pair has nothing to do for the event (not an error): its execution is skipped."""


def fan_out(
    row: CopyEvent, event: MasterEvent, master: TradingAccount, opened: CopyEvent | None, open_before: Decimal
) -> tuple[list[CopyExecution], list[Order]]:
    """Write the event's orders, links and executions (one statement each) and its status."""
    pairs = list(
        CopyPair.objects.filter(owner_id=master.owner_id, master=master)
        .active()
        .select_related("master", "slave")
        .order_by("pk")
    )
    if event.kind != CopyEvent.Kind.DEAL_ADD and opened is None:
        _event_conclude(row, CopyEvent.Status.SKIPPED, f"Order {event.order_id} was never opened on this master.")
        return [], []
    if not pairs:
        _event_conclude(row, CopyEvent.Status.SKIPPED, "No active pair copies this master.")
        return [], []
    links = _pair_links(pairs, event.order_id)
    hooks.fan_out_links_locked.send(row, event=event)
    plan = FanOut(row, event, open_before, pairs)
    executions, orders, new_links = [], [], []
    for pair in pairs:
        for execution, order, link in plan.for_pair(pair, links.get(pair.pk, [])):
            if order is not None:
                execution.order = order
                orders.append(order)
            if link is not None:
                new_links.append(link)
            executions.append(execution)
    # One statement each; bulk_create sets the orders' keys (PostgreSQL, SQLite ≥ 3.35), which the
    # links and executions then take up.
    Order.objects.bulk_create(orders)
    CopyLink.objects.bulk_create(new_links)
    CopyExecution.objects.bulk_create(executions)
    rows_update(sorted(plan.links, key=lambda link: link.pk), ["closed_at", "master_volume"])  # in key order
    if orders:
        _event_conclude(row, CopyEvent.Status.PROCESSED, "", pairs=len({e.pair_id for e in executions if e.order}))
    elif any(e.status == CopyExecution.Status.ERROR for e in executions):
        _event_conclude(row, CopyEvent.Status.ERROR, "No slave could copy this event; see each slave's error.")
    else:
        _event_conclude(row, CopyEvent.Status.SKIPPED, executions[0].error if executions else "Nothing to copy.")
    return executions, orders


def _pair_links(pairs: list[CopyPair], order_id: str) -> dict[int, list[CopyLink]]:
    """Every pair's links to the master's order, by pair, in one read whatever the number of
    slaves; locked, in key order as a drain's bookkeeping takes them: a link the drain is
    closing (its open was refused) is read closed, not written back open from a read taken a
    moment before."""
    links: dict[int, list[CopyLink]] = {}
    for link in (
        CopyLink.objects.filter(pair__in=pairs, master_order_id=order_id)
        .select_related("open_order")
        .select_for_update(of=("self",))
        .order_by("pk")
    ):
        links.setdefault(link.pair_id, []).append(link)
    return links


class FanOut:
    """What one master event asks of each pair: an execution per slave order (a close or
    modify reaches every position linked to the master's order), or one that says why not."""

    def __init__(self, row: CopyEvent, event: MasterEvent, open_before: Decimal, pairs: list[CopyPair]) -> None:
        self.row, self.event, self.open_before = row, event, open_before
        kind = event.kind
        # A deal_add of an order the master still has open: a netting account added to its position.
        self.adding = kind == CopyEvent.Kind.DEAL_ADD and open_before > 0
        self.full_close = kind == CopyEvent.Kind.DEAL_CLOSE and (event.volume is None or event.volume >= open_before)
        partial = kind == CopyEvent.Kind.DEAL_CLOSE and not self.full_close
        self.fraction = close_fraction(event.volume, open_before) if partial else None
        opens = kind == CopyEvent.Kind.DEAL_ADD and not self.adding
        wanted = [(pair.slave_id, pair_symbol(pair, event.symbol)) for pair in pairs]
        self.mappings = symbol_mappings_read(wanted) if opens else {}
        self.links: list[CopyLink] = []  # links whose master volume (and closing) changed: written together

    def _execution(self, pair: CopyPair) -> CopyExecution:
        row = self.row
        return CopyExecution(
            owner_id=row.owner_id, event=row, pair=pair, slave=pair.slave, master_volume=self.event.volume
        )

    def for_pair(self, pair: CopyPair, links: list[CopyLink]) -> list[Planned]:
        """The pair's executions, each with the order it sends and the link it makes, if any."""
        open_links = [link for link in links if link.closed_at is None]
        execution = self._execution(pair)
        try:
            if self.event.kind == CopyEvent.Kind.DEAL_ADD and not self.adding:
                if links:
                    raise NothingToCopy(f"Order {self.event.order_id} is already copied to this slave.")
                order = open_order(self.row, self.event, pair, execution, self.mappings)
                return [(execution, order, self._new_link(pair, order))]
            self._check_acts_on(pair, open_links)
            if self.adding:
                return [self._addition(pair, open_links, execution)]
        except (SlaveCannotCopy, NothingToCopy) as error:
            return [(self._not_copied(execution, error), None, None)]
        return self._on_each_link(pair, open_links, execution)

    def _check_acts_on(self, pair: CopyPair, open_links: list[CopyLink]) -> None:
        """NothingToCopy unless a close, modify or addition has a linked position to act on."""
        event = self.event
        if not open_links:
            raise NothingToCopy(f"Nothing of order {event.order_id} is open on this slave.")
        if event.kind == CopyEvent.Kind.POSITION_MODIFY and not pair.copy_sl_tp:
            raise NothingToCopy("TP/SL copying is off for this pair.")
        if self.fraction == 0:
            closing, held = lots_text(event.volume), lots_text(self.open_before)
            raise NothingToCopy(f"Closing {closing} of the {held} lots open is too small a share to copy.")

    def _on_each_link(self, pair: CopyPair, open_links: list[CopyLink], execution: CopyExecution) -> list[Planned]:
        """A close or modify of every open position linked to the master's order."""
        made: list[Planned] = []
        for index, link in enumerate(open_links):
            execution = execution if index == 0 else self._execution(pair)
            if self.event.kind == CopyEvent.Kind.DEAL_CLOSE:
                order = close_order(self.row, self.event, pair, execution, link, self.open_before, self.fraction)
                self.links.append(link)
            else:
                order = modify_order(self.row, self.event, pair, execution, link)
            made.append((execution, order, None))
        return made

    def _addition(self, pair: CopyPair, open_links: list[CopyLink], execution: CopyExecution) -> Planned:
        """The master added to its position: the slave adds the rule's volume of the added
        lots. A netting slave's order joins the linked position (the link's volume grows when
        it fills); on a hedging slave it opens a position of its own, linked to the same master
        order, so closes and modifies reach both."""
        order = addition_order(self.row, self.event, pair, execution, open_links[0].open_order)
        for link in open_links:
            link.master_volume = self.open_before + (self.event.volume or 0)
        self.links += open_links
        return execution, order, self._new_link(pair, order) if pair.slave.hedging else None

    def _new_link(self, pair: CopyPair, order: Order) -> CopyLink:
        return CopyLink(
            owner_id=self.row.owner_id,
            pair=pair,
            master_order_id=self.event.order_id,
            slave=pair.slave,
            open_order=order,
            master_volume=self.event.volume,
        )

    @staticmethod
    def _not_copied(execution: CopyExecution, error: Exception) -> CopyExecution:
        skipped = isinstance(error, NothingToCopy)
        execution.status = CopyExecution.Status.SKIPPED if skipped else CopyExecution.Status.ERROR
        execution.error = str(error)[:300]
        execution.done_at = timezone.now()
        return execution


def _event_conclude(row: CopyEvent, status: str, reason: str, *, pairs: int = 0) -> None:
    """The event's status, reason and number of pairs copied, on the row and in the database."""
    row.status, row.reason, row.pairs_processed = status, reason[:300], pairs
    CopyEvent.objects.filter(pk=row.pk).update(status=status, reason=row.reason, pairs_processed=pairs)
