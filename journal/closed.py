"""Closed trades and money movements read for the statistics in one ordered pass each: only the
columns the figures need, amounts as whole cents rounded by the database (exact on both vendors:
every amount has two decimal places), and no per-row conversion by Django (its converters cost
more than the reading itself over 100,000 rows)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal

from django.core.exceptions import EmptyResultSet
from django.db import connections
from django.db.models import BigIntegerField, Func, QuerySet, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate
from django.utils import timezone

from .models import Trade

UTC_NAMES = {"UTC", "Etc/UTC"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Cents(Func):
    """An amount of two decimal places as whole cents. PostgreSQL rounds it (exact numeric);
    SQLite gives its stored number as is (rounding it there costs more than in Python, where
    `whole_cents` does it: round(x * 100) is exact for a stored two-decimal amount)."""

    arity = 1
    template = "CAST(ROUND(%(expressions)s * 100) AS BIGINT)"
    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, template="%(expressions)s", **extra_context)


def whole_cents(vendor: str) -> Callable[[list], list[int]]:
    """Turns a column of Cents values, as the vendor's driver gave them, into ints."""
    if vendor == "sqlite":
        return lambda values: [round(value * 100) for value in values]
    return lambda values: values


def raw_rows(rows: QuerySet) -> list[tuple]:
    """The rows of a values_list() query as the database driver gives them: datetimes in UTC
    (naive on SQLite, aware on PostgreSQL), integers and text as they are."""
    try:
        sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    except EmptyResultSet:  # .none(), or a filter nothing can match
        return []
    with connections[rows.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class Stamp(Func):
    """A datetime column as whole microseconds since the epoch (UTC), the cheapest value for a
    driver to hand over (Django's loaders parse each datetime in Python: 0.45 s a 100,000 on
    PostgreSQL). On SQLite from julianday(): monotonic, a few microseconds off at most."""

    arity = 1
    template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) * 1000000 AS BIGINT)"
    output_field = BigIntegerField()

    def as_sqlite(self, compiler, connection, **extra_context):
        template = "CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400000000.0) AS INTEGER)"
        return self.as_sql(compiler, connection, template=template, **extra_context)


def closed_trades(trades: QuerySet[Trade]) -> dict[str, "Columns"]:
    """The closed trades per currency, in close-time order (then storing order), as columns:
    what the curve and the long/short split need row by row; the costs come from cost_sums()."""
    rows = trades.filter(status=Trade.Status.CLOSED).order_by("close_time", "pk")
    per_currency: dict[str, list[tuple]] = {}
    for row in raw_rows(rows.values_list("currency", Stamp("close_time"), Cents("profit"), "side")):
        group = per_currency.get(row[0])
        if group is None:
            group = per_currency[row[0]] = []
        group.append(row)
    cents = whole_cents(connections[trades.db].vendor)
    return {currency: Columns(group, cents) for currency, group in per_currency.items()}


class Columns:
    """One currency's closed trades: `stamps`, `profits` (cents) and `sides`, in close-time order."""

    def __init__(self, rows: list[tuple], cents: Callable[[list], list[int]]) -> None:
        self.stamps = [row[1] for row in rows]
        self.profits = cents([row[2] for row in rows])
        self.sides = [row[3] for row in rows]


def cost_sums(trades: QuerySet[Trade]) -> dict[str, dict[str, Decimal]]:
    """Per currency, the closed trades' commission and swap, summed by the database in one
    grouped read of the stats index (cheaper than carrying two more columns through Python)."""
    rows = trades.filter(status=Trade.Status.CLOSED).order_by().values("currency")
    return {row.pop("currency"): row for row in rows.annotate(commission=Sum("commission"), swap=Sum("swap"))}


def movements(money: QuerySet) -> dict[str, list[tuple[int, int]]]:
    """Money movements per currency, oldest first: (stamp, amount in cents). Sorted here: few
    rows, and the database then reads them from the (owner, kind, time) index alone."""
    rows = raw_rows(money.order_by().values_list("currency", Stamp("time"), Cents("profit"), "pk"))
    cents = whole_cents(connections[money.db].vendor)
    per_currency: dict[str, list[tuple[int, int]]] = {}
    for currency, at, amount, _pk in sorted(rows, key=lambda row: (row[1], row[3])):
        per_currency.setdefault(currency, []).append((at, cents([amount])[0]))
    return per_currency


def aware(at: int) -> datetime:
    """A stamp of Stamp (microseconds since the epoch) as an aware UTC datetime."""
    return EPOCH + timedelta(microseconds=at)


def local_zone() -> tzinfo | None:
    """The current time zone, or None when it is UTC: the stamps are UTC already, nothing to convert."""
    return None if timezone.get_current_timezone_name() in UTC_NAMES else timezone.get_current_timezone()


class _UtcOnSqlite:
    """On SQLite, Django converts each stamp's time zone in a Python function called per row
    (1.6 s over 100,000 trades); in UTC the stored text is already the answer, which SQLite's
    own date functions read. Any other zone, and other vendors, keep Django's SQL."""

    sqlite_sql = ""  # around the column's SQL; "%%" for a literal "%"

    def as_sqlite(self, compiler, connection, **extra_context):
        if self.get_tzname() not in UTC_NAMES:
            return self.as_sql(compiler, connection, **extra_context)
        sql, params = compiler.compile(self.lhs)
        return self.sqlite_sql.replace("{}", sql), params


class Hour(_UtcOnSqlite, ExtractHour):
    sqlite_sql = "CAST(strftime('%%H', {}) AS INTEGER)"


class IsoWeekDay(_UtcOnSqlite, ExtractIsoWeekDay):
    sqlite_sql = "((CAST(strftime('%%w', {}) AS INTEGER) + 6) %% 7 + 1)"  # %w: 0 Sunday … 6 Saturday


class Date(_UtcOnSqlite, TruncDate):
    sqlite_sql = "date({})"
