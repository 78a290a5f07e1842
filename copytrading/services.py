"""Writes of copy trading: pairs and their keys, and master events becoming slave orders.

A master event (from POST /api/copy/trade, the host-side watcher, or a copy that filled on
a slave that is itself a master) is stored once, by (master, kind, order id, sequence), and
in the same transaction becomes one order per active pair of that master, through the
order pipeline every other order takes (terminals.orders: ordering, at most once, risk
guards, volume normalised to the slave symbol's step/min/max, retcodes in words).

A netting master has one position per symbol: a deal_add of an order it still has open (a
new deal) is an addition, which each slave copies by the pair's rule into its linked
position (a netting slave's order joins it; a hedging slave's opens a second position,
linked to the same master order, so closes and modifies reach both). A reversal reaches
the slaves as a full close of the old order and a deal_add of the new one (the watcher
splits the reversing deal so).
"""

import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal, InvalidOperation

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from audit.services import audit_rotation
from mt5saas.crypto import decrypt, encrypt, secret_digest, secret_digests
from mt5saas.db import rows_update
from mt5saas.events import publish_each, publish_many
from terminals.models import Order, SymbolMapping, TradingAccount
from terminals.orders.prepare import close_fraction, close_share
from terminals.orders.queue import orders_enqueue, queued_stamp
from terminals.selectors import order_event
from terminals.symbols import SymbolError, symbol_clean, symbol_mappings_read, symbol_normalize, symbol_resolve

from .models import CopyEvent, CopyExecution, CopyLink, CopyPair

log = logging.getLogger(__name__)

KEY_PREFIX = "cpk_"
MAX_KEY_LENGTH = 128
MAX_ORDER_ID = 64
LOT = Decimal("0.0001")  # Order.volume's precision: the pipeline rounds to the symbol's step
MAX_LOTS = Decimal("1000000")
REPEAT_WINDOW = timedelta(seconds=10)
Status = CopyExecution.Status


class CopyError(Exception):
    """A request that cannot be carried out; `message` is a sentence for the trader."""

    def __init__(
        self, message: str, *, status: int = 400, field: str | None = None, errors: dict | None = None
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.field = message, status, field
        self.errors = errors or {field or "non_field_errors": [message]}


# --- pairs ---------------------------------------------------------------------------


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _key_fields(key: str) -> dict:
    return {"key_digest": secret_digest(key), "key_ciphertext": encrypt(key), "key_hint": key[:8]}


def _label(account: TradingAccount) -> str:
    return account.nickname or account.login


def _cycle(*, owner, master: TradingAccount, slave: TradingAccount, exclude: int | None = None) -> list[int] | None:
    """The account ids of the cycle that master → slave would close, master first and last, or None.

    Every pair counts, active or not: switching a pair on must never close a loop."""
    edges: dict[int, list[int]] = {}
    for pair in CopyPair.objects.owned_by(owner).exclude(pk=exclude).values_list("master_id", "slave_id"):
        edges.setdefault(pair[0], []).append(pair[1])
    # Depth-first from the slave: reaching the master means the copies would go round forever.
    trail: dict[int, int | None] = {slave.pk: None}
    stack = [slave.pk]
    while stack:
        node = stack.pop()
        if node == master.pk:
            path = [node]
            while trail[path[-1]] is not None:
                path.append(trail[path[-1]])
            return [master.pk, *reversed(path)]
        for nxt in edges.get(node, []):
            if nxt not in trail:
                trail[nxt] = node
                stack.append(nxt)
    return None


def _check_accounts(*, owner, master: TradingAccount, slave: TradingAccount, exclude: int | None = None) -> None:
    # One trader's pair changes one at a time: two pairs created at once (A → B, B → A) would
    # each find no cycle without the other. The owner's row is the lock (SQLite serialises writers
    # anyway); NO KEY, so orders and links inserted for the trader meanwhile (they reference the
    # row) are not held up: with a full lock a pair move and its master's intake deadlocked.
    list(get_user_model().objects.select_for_update(no_key=True).filter(pk=owner.pk).values_list("pk"))
    mine = TradingAccount.objects.owned_by(owner).alive()
    for name, account in (("master", master), ("slave", slave)):
        if not mine.filter(pk=account.pk).exists():
            raise CopyError("Not one of your accounts.", field=name)
    if master.pk == slave.pk:
        raise CopyError("The master and the slave must be two different accounts.", field="slave")
    if CopyPair.objects.filter(master=master, slave=slave).exclude(pk=exclude).exists():
        raise CopyError("This master is already copied to this slave.", field="slave")
    cycle = _cycle(owner=owner, master=master, slave=slave, exclude=exclude)
    if cycle is not None:
        accounts = TradingAccount.objects.in_bulk(cycle)
        names = " → ".join(_label(accounts[pk]) for pk in cycle)
        raise CopyError(f"This pair would copy trades in a circle: {names}.", field="slave")


def pair_rule_clean(fields: dict) -> None:
    """Checks a pair's rule fields (CopyError); the symbol map is normalised in place."""
    if "multiplier" in fields and not fields["multiplier"] > 0:
        raise CopyError("The multiplier must be more than 0.", field="multiplier")
    if "fixed_volume" in fields and not fields["fixed_volume"] > 0:
        raise CopyError("The fixed volume must be more than 0 lots.", field="fixed_volume")
    symbol_map = fields.get("symbol_map")
    if symbol_map is not None:
        if not isinstance(symbol_map, dict):
            raise CopyError("The symbol map must be an object of master symbol → slave symbol.", field="symbol_map")
        cleaned = {}
        for requested, broker in symbol_map.items():
            try:
                symbol_normalize(broker)  # refuses what cannot be a symbol; the broker's spelling is kept
                cleaned[symbol_normalize(requested)] = str(broker).strip()
            except SymbolError as error:
                raise CopyError(str(error), field="symbol_map") from None
        fields["symbol_map"] = cleaned


PAIR_FIELDS = ("volume_mode", "multiplier", "fixed_volume", "copy_sl_tp", "auto_symbol_map", "symbol_map", "active")


@transaction.atomic
def pair_create(
    *, owner, master: TradingAccount, slave: TradingAccount, key: str | None = None, **fields
) -> tuple[CopyPair, str]:
    """A new pair and its API key (returned once; pair_key_reveal shows it again); `key`
    keeps a key the master EA already has (legacy import), else a new one is made.

    Raises CopyError: an account that is not the owner's, master = slave, an existing pair,
    or a pair that would close a cycle (named, e.g. "A → B → C → A")."""
    fields = {name: value for name, value in fields.items() if name in PAIR_FIELDS}
    pair_rule_clean(fields)
    _check_accounts(owner=owner, master=master, slave=slave)
    key = key or _new_key()
    pair = CopyPair.objects.create(owner=owner, master=master, slave=slave, **fields, **_key_fields(key))
    return pair, key


@transaction.atomic
def pair_update(*, pair: CopyPair, **fields) -> CopyPair:
    """Change a pair's accounts or rules; the same checks as pair_create."""
    master, slave = fields.pop("master", pair.master), fields.pop("slave", pair.slave)
    fields = {name: value for name, value in fields.items() if name in PAIR_FIELDS}
    pair_rule_clean(fields)
    if (master.pk, slave.pk) != (pair.master_id, pair.slave_id):
        _check_accounts(owner=pair.owner, master=master, slave=slave, exclude=pair.pk)
        # A link names a position on the pair's slave, opened by the pair's master's order:
        # moved to other accounts, its close would go to the new slave under the old ticket.
        # The master's row, as its intake locks it: no event of its fans out meanwhile.
        TradingAccount.objects.select_for_update(no_key=True).filter(pk=pair.master_id).values_list("pk").first()
        links = CopyLink.objects.select_for_update().filter(pair=pair)
        field = "slave" if slave.pk != pair.slave_id else "master"
        if still_open := links.filter(closed_at__isnull=True).count():
            raise CopyError(
                f"{still_open} copied position(s) of this pair are still open on {_label(pair.slave)}: close them "
                "first, or create a new pair for the other account.",
                field=field,
            )
        if CopyExecution.objects.filter(pair=pair, status=Status.PENDING).exists():
            # A close is on its way (its link reads closed already): its outcome needs the link.
            raise CopyError("This pair's copies are still being carried out; try again in a moment.", field=field)
        links.delete()  # all closed: they named the old accounts' orders and positions
    pair.master, pair.slave = master, slave
    for name, value in fields.items():
        setattr(pair, name, value)
    pair.save()
    return pair


def pair_toggle(*, pair: CopyPair) -> CopyPair:
    pair.active = not pair.active
    pair.save(update_fields=["active", "updated_at"])
    return pair


def pair_delete(*, pair: CopyPair) -> None:
    """Executions keep their history (their pair becomes empty); links go with the pair."""
    pair.delete()


def pair_key_rotate(*, pair: CopyPair) -> str:
    """A new key for the pair; the old one fails from the next request on."""
    key = _new_key()
    CopyPair.objects.filter(pk=pair.pk).update(**_key_fields(key))
    audit_rotation(instance=pair)
    return key


def pair_key_reveal(*, pair: CopyPair) -> str:
    return decrypt(pair.key_ciphertext)


def pair_by_key(*, key: object) -> CopyPair | None:
    """The pair whose key this is, or None (unknown, rotated, or not a key at all)."""
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        return None
    digests = secret_digests(key)
    pair = CopyPair.objects.select_related("master", "owner").filter(key_digest__in=digests).first()
    if pair is None or not any(hmac.compare_digest(pair.key_digest, d) for d in digests):
        return None
    if pair.key_digest != digests[0]:
        CopyPair.objects.filter(pk=pair.pk).update(key_digest=digests[0])  # matched under a SECRET_KEY fallback
    return pair


# --- master events -------------------------------------------------------------------


@dataclass(frozen=True)
class MasterEvent:
    kind: str
    order_id: str
    symbol: str = ""
    side: str = ""
    volume: Decimal | None = None
    sl: Decimal | None = None
    tp: Decimal | None = None
    sequence: str = ""  # the master's deal ticket, when the source knows it


PRICE_PLACES = Decimal("0.00000001")  # the price columns' decimal places (LOT: the lots')
MAX_PRICE = Decimal("1e11")  # below the price columns' 12 integer digits


def _number(data: dict, name: str, errors: dict, *, places: Decimal, maximum: Decimal) -> Decimal | None:
    """A number of 0 or more from the body, rounded to the column's places; None if absent.
    Bounds come before any arithmetic: "1e999999999" overflows Decimal's context, and
    "1e-999999999" formats as a billion characters."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors[name] = [f"{name} must be a number."]
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        errors[name] = [f"{name} must be a number, not {str(value)[:20]!r}."]
        return None
    if not number.is_finite() or number < 0:
        errors[name] = [f"{name} must be a finite number of 0 or more."]
        return None
    if number and number.adjusted() < places.adjusted():
        errors[name] = [f"{name} must be 0 or at least {places.normalize():f}."]
        return None
    if number.adjusted() > maximum.adjusted() or number > maximum:
        errors[name] = [f"{name} must be at most {maximum.normalize():f}."]
        return None
    return number.quantize(places)


def event_parse(data: dict) -> MasterEvent:
    """A master event from a request body (docs/copy-trading.md); CopyError with field errors otherwise."""
    errors: dict[str, list[str]] = {}
    kind = str(data.get("event", "")).strip().lower()
    if kind not in CopyEvent.Kind.values:
        errors["event"] = [f"event must be one of {', '.join(CopyEvent.Kind.values)}."]
    order_id = data.get("order_id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if not isinstance(order_id, str) or not order_id.strip() or len(order_id) > MAX_ORDER_ID:
        errors["order_id"] = [f"order_id must be text of 1 to {MAX_ORDER_ID} characters."]
    elif not order_id.isprintable():
        errors["order_id"] = ["order_id contains control characters."]
    symbol, side = "", ""
    volume = _number(data, "volume", errors, places=LOT, maximum=MAX_LOTS)
    if volume == 0:
        errors["volume"] = ["volume must be more than 0."]
    sl = _number(data, "sl", errors, places=PRICE_PLACES, maximum=MAX_PRICE)
    tp = _number(data, "tp", errors, places=PRICE_PLACES, maximum=MAX_PRICE)
    if kind == CopyEvent.Kind.DEAL_ADD:
        try:
            symbol = symbol_clean(data.get("symbol"))  # shown and sent as the master spelled it
        except SymbolError as error:
            errors["symbol"] = [str(error)]
        side = str(data.get("type", "")).strip().lower()
        if side not in ("buy", "sell"):
            errors["type"] = ["type must be BUY or SELL."]
        if volume is None and "volume" not in errors:
            errors["volume"] = ["volume (lots) is required for deal_add."]
    sequence = data.get("deal", data.get("sequence", ""))
    sequence = str(sequence)[:40] if isinstance(sequence, int | str) and not isinstance(sequence, bool) else ""
    if errors:
        raise CopyError("The event is not valid.", errors=errors)
    return MasterEvent(kind, order_id.strip(), symbol, side, volume, sl or None, tp or None, sequence)


def _opened(master: TradingAccount, order_id: str) -> tuple[CopyEvent | None, Decimal]:
    """The master's first deal_add of order_id and what is still open of it: every deal_add
    (a netting account adds to its one position per symbol) less the closes."""
    events = CopyEvent.objects.filter(master=master, order_id=order_id)
    adds = list(events.filter(kind=CopyEvent.Kind.DEAL_ADD).order_by("pk").values_list("pk", "volume"))
    if not adds:
        return None, Decimal(0)
    opened = CopyEvent.objects.get(pk=adds[0][0])
    closes = events.filter(kind=CopyEvent.Kind.DEAL_CLOSE).exclude(status=CopyEvent.Status.ERROR)
    if closes.filter(volume__isnull=True).exists():
        return opened, Decimal(0)
    closed = closes.aggregate(total=Sum("volume"))["total"] or Decimal(0)
    return opened, max(Decimal(0), sum((v or Decimal(0) for _, v in adds), Decimal(0)) - closed)


def master_open_volume(*, master: TradingAccount, order_id: str) -> Decimal | None:
    """What the master still has open of order_id by its events; None if it never reported opening it."""
    opened, open_volume = _opened(master, order_id)
    return None if opened is None else open_volume


def event_never_opened(row: CopyEvent) -> bool:
    """A close or modify of an order the master never reported opening."""
    if row.kind == CopyEvent.Kind.DEAL_ADD:
        return False
    opens = CopyEvent.objects.filter(master_id=row.master_id, order_id=row.order_id, kind=CopyEvent.Kind.DEAL_ADD)
    return not opens.exists()


def _sequence(master: TradingAccount, event: MasterEvent, open_before: Decimal) -> str:
    """Tells a repeat of an event from a new one of the same order when the source gives no
    deal ticket. A close like the order's latest close (same volume) within REPEAT_WINDOW is
    a resend (an EA retrying), as a byte-identical webhook within 10 s is; a modify to the
    levels of the order's latest modify changes nothing, so it is that modify again."""
    if event.sequence:
        return event.sequence
    if event.kind == CopyEvent.Kind.DEAL_ADD:
        return ""
    earlier = CopyEvent.objects.filter(master=master, order_id=event.order_id, kind=event.kind)
    latest = earlier.order_by("-pk").first()
    if event.kind == CopyEvent.Kind.DEAL_CLOSE:
        if (
            latest is not None
            and latest.volume == event.volume
            and latest.received_at >= timezone.now() - REPEAT_WINDOW
        ):
            return latest.sequence
        volume = f"{event.volume.normalize():f}" if event.volume else "all"
        return f"{open_before.normalize():f}-{volume}#{earlier.count()}"
    levels = f"{event.sl or 0:f}/{event.tp or 0:f}"
    if latest is not None and latest.sequence.split("#")[0] == levels:
        return latest.sequence
    return f"{levels}#{earlier.count()}"


def copy_event_receive(
    *, master: TradingAccount, event: MasterEvent, source: str = CopyEvent.Source.API
) -> tuple[CopyEvent, bool]:
    """Store a master event and queue one order per active pair of the master, in one
    transaction; returns (event, created). Idempotent: the same event again returns the
    first one and places nothing, also when two arrive at once."""
    with transaction.atomic():
        # One master's events one at a time (its row locked; SQLite has one writer anyway):
        # each reads what the ones before it left open (two partial closes arriving together
        # would each take their share of the same stale volume), and a second delivery of an
        # event finds the first. NO KEY: orders inserted for the account as a slave go on.
        TradingAccount.objects.select_for_update(no_key=True).filter(pk=master.pk).values_list("pk").first()
        return _receive(master, event, source)


def _receive(master: TradingAccount, event: MasterEvent, source: str) -> tuple[CopyEvent, bool]:
    opened, open_before = _opened(master, event.order_id)
    sequence = _sequence(master, event, open_before)
    lookup = {"master": master, "kind": event.kind, "order_id": event.order_id, "sequence": sequence}
    if (first := CopyEvent.objects.filter(**lookup).first()) is not None:
        return first, False
    row = CopyEvent.objects.create(
        owner_id=master.owner_id,
        source=source,
        symbol=event.symbol or (opened.symbol if opened else ""),
        side=event.side or (opened.side if opened else ""),
        volume=event.volume,
        sl=event.sl,
        tp=event.tp,
        **lookup,
    )
    executions, orders = _fan_out(row, event, master, opened, open_before)
    if orders:
        orders_enqueue(orders=orders)
    publish_many(
        master.owner_id,
        [("copy_event", copy_event_payload(row, executions))] + [("order", order_event(o)) for o in orders],
    )
    return row, True


def _fan_out(
    row: CopyEvent, event: MasterEvent, master: TradingAccount, opened: CopyEvent | None, open_before: Decimal
) -> tuple[list[CopyExecution], list[Order]]:
    pairs = list(
        CopyPair.objects.filter(owner_id=master.owner_id, master=master)
        .active()
        .select_related("master", "slave")
        .order_by("pk")
    )
    if event.kind != CopyEvent.Kind.DEAL_ADD and opened is None:
        _settle_event(row, CopyEvent.Status.SKIPPED, f"Order {event.order_id} was never opened on this master.")
        return [], []
    if not pairs:
        _settle_event(row, CopyEvent.Status.SKIPPED, "No active pair copies this master.")
        return [], []
    # One read of every pair's links to this order, whatever the number of slaves; locked, in
    # key order as a drain's bookkeeping takes them: a link the drain is closing (its open was
    # refused) is read closed, not written back open from a read taken a moment before.
    links: dict[int, list[CopyLink]] = {}
    for link in (
        CopyLink.objects.filter(pair__in=pairs, master_order_id=event.order_id)
        .select_related("open_order")
        .select_for_update(of=("self",))
        .order_by("pk")
    ):
        links.setdefault(link.pair_id, []).append(link)
    fan = _Fan(row, event, open_before, pairs)
    executions, orders, new_links = [], [], []
    for pair in pairs:
        for execution, order, link in fan.pair(pair, links.get(pair.pk, [])):
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
    rows_update(sorted(fan.links, key=lambda link: link.pk), ["closed_at", "master_volume"])  # in key order
    if orders:
        _settle_event(row, CopyEvent.Status.PROCESSED, "", pairs=len({e.pair_id for e in executions if e.order}))
    elif any(e.status == Status.ERROR for e in executions):
        _settle_event(row, CopyEvent.Status.ERROR, "No slave could copy this event; see each slave's error.")
    else:
        _settle_event(row, CopyEvent.Status.SKIPPED, executions[0].error if executions else "Nothing to copy.")
    return executions, orders


class _Fan:
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
        wanted = [(pair.slave_id, _pair_symbol(pair, event.symbol)) for pair in pairs]
        self.mappings = symbol_mappings_read(wanted) if opens else {}
        self.links: list[CopyLink] = []  # links whose master volume (and closing) changed: written together

    def _execution(self, pair: CopyPair) -> CopyExecution:
        row = self.row
        return CopyExecution(
            owner_id=row.owner_id, event=row, pair=pair, slave=pair.slave, master_volume=self.event.volume
        )

    def pair(self, pair: CopyPair, links: list[CopyLink]) -> list[tuple[CopyExecution, Order | None, CopyLink | None]]:
        event, kind = self.event, self.event.kind
        open_links = [link for link in links if link.closed_at is None]
        execution = self._execution(pair)
        try:
            if kind == CopyEvent.Kind.DEAL_ADD and not self.adding:
                if links:
                    raise _Skip(f"Order {event.order_id} is already copied to this slave.")
                order = _open_order(self.row, event, pair, execution, self.mappings)
                return [(execution, order, self._new_link(pair, order))]
            if not open_links:
                raise _Skip(f"Nothing of order {event.order_id} is open on this slave.")
            if kind == CopyEvent.Kind.POSITION_MODIFY and not pair.copy_sl_tp:
                raise _Skip("TP/SL copying is off for this pair.")
            if self.fraction == 0:
                closing, held = _text(event.volume), _text(self.open_before)
                raise _Skip(f"Closing {closing} of the {held} lots open is too small a share to copy.")
            if self.adding:
                return [self._add(pair, open_links, execution)]
        except (CopyError, _Skip) as error:
            return [(self._failed(execution, error), None, None)]
        made = []
        for index, link in enumerate(open_links):
            execution = execution if index == 0 else self._execution(pair)
            if kind == CopyEvent.Kind.DEAL_CLOSE:
                order = _close_order(self.row, event, pair, execution, link, self.open_before, self.fraction)
                self.links.append(link)
            else:
                order = _modify_order(self.row, event, pair, execution, link)
            made.append((execution, order, None))
        return made

    def _add(
        self, pair: CopyPair, open_links: list[CopyLink], execution: CopyExecution
    ) -> tuple[CopyExecution, Order, CopyLink | None]:
        """The master added to its position: the slave adds the rule's volume of the added
        lots. A netting slave's order joins the linked position (the link's volume grows when
        it fills); on a hedging slave it opens a position of its own, linked to the same master
        order, so closes and modifies reach both."""
        first = open_links[0].open_order
        execution.symbol = first.symbol or first.requested_symbol
        volume = execution.volume_before = _slave_volume(self.event, pair)
        netting = not pair.slave.hedging
        order = _order(
            self.row,
            pair,
            action=Order.Action.OPEN,
            side=first.side,
            requested_symbol=first.requested_symbol,
            symbol=first.symbol,
            volume=volume,
            position_of=first if netting else None,
        )
        for link in open_links:
            link.master_volume = self.open_before + (self.event.volume or 0)
        self.links += open_links
        return execution, order, None if netting else self._new_link(pair, order)

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
    def _failed(execution: CopyExecution, error: Exception) -> CopyExecution:
        skipped = isinstance(error, _Skip)
        execution.status = Status.SKIPPED if skipped else Status.ERROR
        execution.error = (str(error) if skipped else error.message)[:300]
        execution.done_at = timezone.now()
        return execution


class _Skip(Exception):
    """This pair has nothing to do for the event (not an error)."""


def _settle_event(row: CopyEvent, status: str, reason: str, *, pairs: int = 0) -> None:
    row.status, row.reason, row.pairs_processed = status, reason[:300], pairs
    CopyEvent.objects.filter(pk=row.pk).update(status=status, reason=row.reason, pairs_processed=pairs)


def _order(row: CopyEvent, pair: CopyPair, **fields) -> Order:
    return Order(
        created_at=row.received_at,
        queued_at=queued_stamp(),
        owner_id=pair.owner_id,
        account=pair.slave,
        source=Order.Source.COPY,
        link=f"COPY_{row.order_id}",  # at most MAX_ORDER_ID long: held whole
        comment=f"Copy of {_label(pair.master)} order {row.order_id}"[:100],
        **fields,
    )


def _slave_volume(event: MasterEvent, pair: CopyPair) -> Decimal:
    """The pair's rule, before the slave symbol's step/min/max (the pipeline applies those)."""
    mode = pair.volume_mode
    if mode == CopyPair.VolumeMode.FIXED:
        raw = pair.fixed_volume
    elif mode == CopyPair.VolumeMode.MULTIPLY:
        raw = event.volume * pair.multiplier
    else:
        master, slave = pair.master, pair.slave
        missing = [_label(a) for a in (master, slave) if a.heartbeat_at is None or a.balance <= 0]
        if missing:
            raise CopyError(
                f"Percent mode needs both balances from the latest heartbeat; {', '.join(missing)} has not reported "
                "a balance yet."
            )
        raw = slave.balance / master.balance * event.volume * pair.multiplier
    volume = raw.quantize(LOT, rounding=ROUND_FLOOR)
    if volume <= 0:
        raise CopyError(f"The rule gives {raw.normalize():f} lots, less than any symbol's minimum.")
    if volume > MAX_LOTS:
        raise CopyError(f"The rule gives {_text(volume)} lots, more than the {_text(MAX_LOTS)} any symbol trades.")
    return volume


def _pair_symbol(pair: CopyPair, symbol: str) -> str:
    """The pair's map entry for the master's symbol (the map's keys are upper-cased, as
    symbol_normalize writes them), else the symbol as the master spelled it."""
    return pair.symbol_map.get(symbol.upper(), symbol)


def _slave_symbol(symbol: str, pair: CopyPair, mappings: dict[tuple[int, str], SymbolMapping]) -> tuple[str, str]:
    """(requested, mapped) for the slave: the pair's map, then the account's own mappings
    (`mappings`, from symbol_mappings_read) and automatic rules; mapped is "" when the slave's
    symbol list is not known yet (the execution maps it then)."""
    slave = pair.slave
    requested = _pair_symbol(pair, symbol)
    if not slave.symbols:
        return requested, ""
    if not pair.auto_symbol_map:
        if requested in slave.symbols:
            return requested, requested
        # The name as is, in any case the slave lists it once ("eurusd" from a master, "EURUSD" here).
        same = [name for name in slave.symbols if name.upper() == requested.upper()]
        if len(same) == 1:
            return requested, same[0]
        raise CopyError(f"{requested} is not offered on {_label(slave)}, and automatic symbol mapping is off.")
    try:
        mapping = mappings.get((slave.pk, symbol_normalize(requested)))
        return requested, symbol_resolve(account=slave, requested=requested, available=slave.symbols, mapping=mapping)
    except SymbolError as error:
        raise CopyError(f"{_label(slave)}: {error}") from None


def _open_order(
    row: CopyEvent,
    event: MasterEvent,
    pair: CopyPair,
    execution: CopyExecution,
    mappings: dict[tuple[int, str], SymbolMapping],
) -> Order:
    requested, symbol = _slave_symbol(event.symbol, pair, mappings)
    execution.symbol = symbol or requested
    volume = _slave_volume(event, pair)
    execution.volume_before = volume
    return _order(
        row,
        pair,
        action=Order.Action.OPEN,
        side=event.side,
        requested_symbol=requested,
        symbol=symbol,
        volume=volume,
        sl=event.sl if pair.copy_sl_tp else None,
        tp=event.tp if pair.copy_sl_tp else None,
    )


def _close_order(
    row: CopyEvent,
    event: MasterEvent,
    pair: CopyPair,
    execution: CopyExecution,
    link: CopyLink,
    open_before: Decimal,
    fraction: Decimal | None,
) -> Order:
    """A close of the linked position: all of it (fraction None), or the same share of it as
    the master closed of its own, measured when it executes."""
    opener = link.open_order
    execution.symbol = opener.symbol or opener.requested_symbol
    if fraction is None:
        link.closed_at, link.master_volume = timezone.now(), Decimal(0)
    else:
        link.master_volume = open_before - event.volume
        if link.volume is not None:
            execution.volume_before = close_share(link.volume, fraction).quantize(LOT, rounding=ROUND_FLOOR)
    return _order(
        row,
        pair,
        action=Order.Action.CLOSE_TICKET,
        requested_symbol=opener.requested_symbol,
        symbol=opener.symbol,
        position_ticket=link.slave_ticket,
        position_of=opener,
        close_fraction=fraction,
    )


def _modify_order(
    row: CopyEvent, event: MasterEvent, pair: CopyPair, execution: CopyExecution, link: CopyLink
) -> Order:
    opener = link.open_order
    execution.symbol = opener.symbol or opener.requested_symbol
    return _order(
        row,
        pair,
        action=Order.Action.MODIFY_SLTP,
        requested_symbol=opener.requested_symbol,
        symbol=opener.symbol,
        position_ticket=link.slave_ticket,
        position_of=opener,
        sl=event.sl,
        tp=event.tp,
    )


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
        "master_volume": _text(execution.master_volume),
        "volume_before": _text(execution.volume_before),
        "volume_after": _text(execution.volume_after),
        "latency_ms": None if done is None else round((done - execution.created_at).total_seconds() * 1000, 1),
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.normalize():f}"


# --- outcomes and cascades -----------------------------------------------------------


def copy_orders_finished(sender, *, orders: list[Order], **kwargs) -> None:
    """terminals.signals.orders_finished: record copied orders' outcomes on their
    executions and links, and pass fills on to slaves that are masters themselves.

    One transaction, claimed by each execution's `pending` state (its row locked on
    PostgreSQL): a second announcement of the same outcome (copy_outcomes_sweep after a worker
    died here) changes nothing, and a run that died half-way left nothing behind, so the
    sweep redoes all of it. A round of N orders is a few statements, not a few per order."""
    copies = {order.pk: order for order in orders if order.source == Order.Source.COPY}
    if not copies:
        return
    with transaction.atomic():
        # The accounts that pass their fills on (active masters) locked first, before any
        # link, in key order: an intake of such an account's own events locks its row, then
        # links (copy_event_receive); taken the other way round here, the two deadlocked.
        masters = set(
            TradingAccount.objects.select_for_update(no_key=True)
            .filter(pk__in={order.account_id for order in copies.values()})
            .filter(pk__in=CopyPair.objects.active().values("master_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        executions = list(
            CopyExecution.objects.filter(order_id__in=copies, status=Status.PENDING)
            .select_related("event")
            .select_for_update(of=("self",))
            .order_by("pk")
        )
        if not executions:
            return
        claimed = [copies[execution.order_id] for execution in executions]
        for execution, order in zip(executions, claimed, strict=True):
            filled = order.status == Order.Status.FILLED
            execution.status = Status.SUCCESS if filled else Status.ERROR
            execution.error = "" if filled else (order.status_reason or order.status)[:300]
            execution.volume_after = order.filled_volume if filled else None
            execution.symbol = order.symbol or execution.symbol
            execution.done_at = order.done_at or timezone.now()
        rows_update(executions, ["status", "error", "volume_after", "symbol", "done_at"])
        links = _links_of(claimed)
        changed = {}
        for order in claimed:
            if (link := links.get(order.pk)) is not None and _link_change(link, order):
                changed[link.pk] = link
        rows_update(list(changed.values()), ["slave_ticket", "volume", "closed_at"])
        # What each slave did, not the event's whole list again: with N slaves that would be
        # N outcomes of N executions each. The event's first publish listed them all.
        publish_each(
            (order.owner_id, "copy_event", copy_event_payload(execution.event, [execution]))
            for execution, order in zip(executions, claimed, strict=True)
        )
        passed_on = [
            (order, link)
            for order in claimed
            if order.status == Order.Status.FILLED
            and (link := links.get(order.pk)) is not None
            and link.slave_ticket is not None
        ]
        for order, link in passed_on:
            if order.account_id in masters:
                _cascade(order, link)


def copy_outcomes_sweep(*, accounts=None) -> int:
    """Outcomes of copied orders (of `accounts`, default all) that reached a final state
    without being recorded (the worker died between the two); returns how many were recorded now."""
    stranded = CopyExecution.objects.filter(status=Status.PENDING, order__status__in=Order.FINAL)
    if accounts is not None:
        stranded = stranded.filter(slave__in=accounts)
    orders = list(Order.objects.filter(pk__in=stranded.values("order_id")).select_related("account").order_by("pk"))
    try:
        copy_orders_finished(Order, orders=orders)
        return len(orders)
    except Exception:
        # One of them fails (its cascade, say): each on its own, so that it keeps none of the others waiting.
        log.exception("copy outcomes of orders %s: recorded one by one", [order.pk for order in orders])
    recorded = 0
    for order in orders:
        try:
            copy_orders_finished(Order, orders=[order])
            recorded += 1
        except Exception:
            log.exception("the copy outcome of order %s could not be recorded", order.pk)
    return recorded


def _links_of(orders: list[Order]) -> dict[int, CopyLink]:
    """Each order's link, read at once: the one it opened, or the one whose position it acts
    on (a close, a modify, or an addition on a netting slave). Orders of one link share it."""
    opened = [order.pk for order in orders if order.action == Order.Action.OPEN]
    acted_on = [order.position_of_id for order in orders if order.position_of_id]
    # Locked (PostgreSQL), in key order as a close's fan-out writes them (no deadlock): a close
    # received meanwhile marks the link closed after this is written, not before.
    found = (
        CopyLink.objects.filter(Q(open_order_id__in=opened) | Q(open_order_id__in=acted_on))
        .order_by("pk")
        .select_for_update()
    )
    rows = {link.open_order_id: link for link in found}
    links = {}
    for order in orders:
        link = rows.get(order.pk) if order.action == Order.Action.OPEN else None
        if link is None and order.position_of_id:
            link = rows.get(order.position_of_id)
        if link is not None:
            links[order.pk] = link
    return links


def _link_change(link: CopyLink, order: Order) -> bool:
    """What the order's outcome does to its link (in place); whether it changed."""
    filled = order.status == Order.Status.FILLED
    if order.action == Order.Action.OPEN and link.open_order_id != order.pk:
        # An addition on a netting slave: it joined the linked position.
        if filled and link.volume is not None:
            link.volume += order.filled_volume or order.volume
            return True
        return False
    if order.action == Order.Action.OPEN:
        if filled:
            # On a netting slave the position it filled into, which it may have joined.
            position = order.position_ticket if order.position_ticket is not None else order.ticket
            link.slave_ticket, link.volume = position, order.filled_volume or order.volume
        else:
            link.closed_at = timezone.now()  # nothing was opened: later closes have nothing to do
        return True
    if order.action == Order.Action.CLOSE_TICKET and filled:
        if order.close_fraction is None or (
            link.volume is not None and order.filled_volume is not None and order.filled_volume >= link.volume
        ):
            link.volume, link.closed_at = Decimal(0), link.closed_at or timezone.now()
        elif link.volume is not None and order.filled_volume is not None:
            link.volume -= order.filled_volume
        return True
    return False


def _cascade(order: Order, link: CopyLink) -> None:
    """The slave that filled is an active master itself: its fill is its own master event,
    idempotent by this order's id (a redelivered outcome copies once)."""
    slave = order.account
    position = str(link.slave_ticket)
    if order.action == Order.Action.OPEN:
        event = MasterEvent(
            CopyEvent.Kind.DEAL_ADD,
            position,
            symbol=order.symbol,
            side=order.side,
            volume=order.filled_volume or order.volume,
            sl=order.sl,
            tp=order.tp,
            sequence=f"order-{order.pk}",
        )
    elif order.action == Order.Action.CLOSE_TICKET:
        # A part of the position as the slave reported it as a master, or all of it: on a
        # netting slave copying two masters one master's close leaves the other's lots open.
        held = master_open_volume(master=slave, order_id=position)
        partial = order.filled_volume is not None and held is not None and order.filled_volume < held
        volume = order.filled_volume if partial else None
        event = MasterEvent(CopyEvent.Kind.DEAL_CLOSE, position, volume=volume, sequence=f"order-{order.pk}")
    else:
        event = MasterEvent(
            CopyEvent.Kind.POSITION_MODIFY, position, sl=order.sl, tp=order.tp, sequence=f"order-{order.pk}"
        )
    copy_event_receive(master=slave, event=event, source=CopyEvent.Source.CASCADE)
