"""Reading the journal: a trader's deals and trades, filtered as the Journal page and the API ask.

Every read starts from owned_by(user); an account, copy pair or order named in a filter is
looked up among the user's own rows, so another trader's id is a 404 exactly like a missing one."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404
from django.utils import dateparse, timezone

from copytrading.models import CopyPair
from terminals.models import Order, TradingAccount

from .models import Deal, EquityPoint, Source, Trade

# Dates outside these years are typing mistakes (or probes), never a trader's history.
FIRST_YEAR, LAST_YEAR = 1970, 2100
SIDES = ("buy", "sell")
MAX_ID = 2**63 - 1
# Money movements: deals that are not trades (DEAL_TYPE_BALANCE, _CREDIT, _BONUS, ...).
TRADE_KINDS = (Deal.Kind.BUY, Deal.Kind.SELL)
# Each date filter and the other name it may come under (the page's form uses the second).
DATE_NAMES = {"since": "date_from", "until": "date_to"}


@dataclass(frozen=True)
class JournalFilter:
    """What the page's form and the API's query parameters choose; every field optional."""

    account: int | None = None
    symbol: str = ""
    side: str = ""  # buy | sell
    source: str = ""  # journal.models.Source
    strategy: str = ""
    copy_pair: int | None = None
    since: datetime | None = None  # close time (trades) or time (deals), inclusive
    until: datetime | None = None  # exclusive
    order: int | None = None  # our order (terminals.Order id): its deals, its trade


class FilterError(ValueError):
    """A filter that cannot be read (a bad date, an unknown side); `errors`: field → message.
    An account or copy pair that is not the trader's is not this: it is `Http404` to the caller."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def journal_filter(params: Mapping[str, str], *, user) -> JournalFilter:
    """The filter in a QueryDict (page or API), checked: FilterError for bad values, Http404 for
    an account, copy pair or order the user does not own. Empty values are no filter; names
    this does not know (page, format, ...) are left to the caller."""
    errors: dict[str, str] = {}
    ids = {name: _id(params, name, errors) for name in ("account", "copy_pair", "order")}
    text = {name: _text(params, name, limit, errors) for name, limit in (("symbol", 40), ("strategy", 100))}
    side = _choice(params, "side", SIDES, errors)
    source = _choice(params, "source", Source.values, errors)
    since, until = date_range(params, errors)
    if errors:
        raise FilterError(errors)
    _owned_or_404(TradingAccount, ids["account"], user)
    _owned_or_404(CopyPair, ids["copy_pair"], user)
    _owned_or_404(Order, ids["order"], user)
    return JournalFilter(side=side, source=source, since=since, until=until, **ids, **text)


def date_range(params: Mapping[str, str], errors: dict[str, str]) -> tuple[datetime | None, datetime | None]:
    """`since` and `until` (or `date_from`, `date_to`): ISO dates or date-times; a naive value is
    in the current time zone. A date `until` is inclusive (up to the next midnight). Problems
    go into `errors` under the name the caller used."""
    bounds: dict[str, datetime | None] = {}
    for name, alias in DATE_NAMES.items():
        used = [key for key in (name, alias) if (params.get(key) or "").strip()]
        if len(used) > 1:
            errors[alias] = f"Give {name} or {alias}, not both."
            bounds[name] = None
            continue
        bounds[name] = _moment(params[used[0]], used[0], end=name == "until", errors=errors) if used else None
    since, until = bounds["since"], bounds["until"]
    if since and until and since > until:
        errors["since"] = "Must not be after until."
    return since, until


def _moment(raw: str, name: str, *, end: bool, errors: dict[str, str]) -> datetime | None:
    value = raw.strip()
    try:
        parsed = dateparse.parse_datetime(value) if len(value) > 10 else dateparse.parse_date(value)
    except ValueError:
        parsed = None  # well formed, but no such day or hour (2024-02-30, 25:00)
    if parsed is None:
        errors[name] = "Not a date: use YYYY-MM-DD or an ISO 8601 date and time (2024-05-31T18:00:00Z)."
        return None
    if not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        errors[name] = f"Out of range: years {FIRST_YEAR} to {LAST_YEAR}."
        return None
    if isinstance(parsed, datetime):
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)
    day: date = parsed + timedelta(days=1) if end else parsed
    return timezone.make_aware(datetime.combine(day, time.min))


def _id(params: Mapping[str, str], name: str, errors: dict[str, str]) -> int | None:
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    # The length first: int() of thousands of digits is refused (and slow) in Python.
    if len(raw) > 19 or not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        errors[name] = "Not an id: a positive whole number."
        return None
    return int(raw)


def _text(params: Mapping[str, str], name: str, limit: int, errors: dict[str, str]) -> str:
    value = (params.get(name) or "").strip()
    if len(value) > limit:
        errors[name] = f"At most {limit} characters."
        return ""
    return value


def _choice(params: Mapping[str, str], name: str, choices, errors: dict[str, str]) -> str:
    value = (params.get(name) or "").strip().lower()
    if value and value not in choices:
        errors[name] = f"One of: {', '.join(choices)}."
        return ""
    return value


def _owned_or_404(model, pk: int | None, user) -> None:
    if pk is not None and not model.objects.owned_by(user).filter(pk=pk).exists():
        raise Http404(f"No such {model._meta.verbose_name}.")


def trades(*, user, filters: JournalFilter) -> QuerySet[Trade]:
    """The user's closed trades, newest close first."""
    rows = Trade.objects.owned_by(user).filter(status=Trade.Status.CLOSED)
    rows = _common(rows, filters, time_field="close_time")
    for name in ("source", "strategy", "copy_pair", "order"):
        if value := getattr(filters, name):
            rows = rows.filter(**{name: value})
    # pk breaks ties in a close second, so pages never repeat or skip a row.
    return rows.order_by("-close_time", "-pk")


def deals(*, user, filters: JournalFilter) -> QuerySet[Deal]:
    """The user's deals, newest first (money movements too, unless a symbol or side is chosen).
    Strategy and copy pair are the trades': the deals of the positions of such trades."""
    rows = _common(Deal.objects.owned_by(user), filters, time_field="time")
    for name in ("source", "order"):
        if value := getattr(filters, name):
            rows = rows.filter(**{name: value})
    trade_filters = {name: value for name in ("strategy", "copy_pair") if (value := getattr(filters, name))}
    if trade_filters:
        of_trade = Trade.objects.filter(account=OuterRef("account"), position=OuterRef("position"), **trade_filters)
        rows = rows.filter(Exists(of_trade.owned_by(user)))
    return rows.order_by("-time", "-pk")


def money_movements(*, user, filters: JournalFilter) -> QuerySet[Deal]:
    """The user's deposits, withdrawals, credit, bonuses and other non-trade deals over the
    filter's accounts and range (what the statistics need beside the trades)."""
    rows = Deal.objects.owned_by(user).exclude(kind__in=TRADE_KINDS)
    if filters.copy_pair:
        # A pair's trades are its slave's: that account's money.
        rows = rows.filter(account__in=CopyPair.objects.owned_by(user).filter(pk=filters.copy_pair).values("slave"))
    return _common(rows, JournalFilter(account=filters.account, since=filters.since, until=filters.until), "time")


def _common(rows: QuerySet, filters: JournalFilter, time_field: str) -> QuerySet:
    if filters.account:
        rows = rows.filter(account=filters.account)
    if filters.symbol:
        rows = rows.filter(symbol__iexact=filters.symbol)
    if filters.side:
        rows = rows.filter(side=filters.side)
    if filters.since:
        rows = rows.filter(**{f"{time_field}__gte": filters.since})
    if filters.until:
        rows = rows.filter(**{f"{time_field}__lt": filters.until})
    return rows


def account_get(*, user, pk: int) -> TradingAccount:
    """One of the user's accounts; Http404 for any other id."""
    account = TradingAccount.objects.owned_by(user).filter(pk=pk).first()
    if account is None:
        raise Http404("No such account.")
    return account


def equity_points(*, user, account: TradingAccount) -> QuerySet[EquityPoint]:
    """The account's balance and equity points, oldest first."""
    return EquityPoint.objects.owned_by(user).filter(account=account).order_by("at")
