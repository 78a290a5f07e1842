"""Writes the ORM has no one-statement form for, or no fast one: bulk_create compiles every
value of every row through the field's get_db_prep_save (a Decimal context per value), which
costs more than the database's own work on a large insert."""

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models

M = TypeVar("M", bound=models.Model)

# Rows per INSERT at most, and the bind parameters one statement may carry where the backend
# gives no limit of its own (PostgreSQL's protocol counts them in 16 bits).
INSERT_ROWS = 2000
MAX_PARAMS = 65535
ARRAY_ROWS = 10000  # rows per INSERT … SELECT FROM unnest(arrays) on PostgreSQL
# Fields whose str, or exact int or bool, value is handed over as it is.
TEXT = {"CharField", "TextField"}
PLAIN = {
    "ForeignKey", "BigIntegerField", "IntegerField", "PositiveIntegerField",
    "PositiveBigIntegerField", "SmallIntegerField", "PositiveSmallIntegerField", "BooleanField",
}  # fmt: skip


def _adapter(field: models.Field) -> Callable[[Any], Any]:
    """What the database is handed for one value of `field`, exactly as get_db_prep_save gives it,
    without its per-value work for the plain cases (an exact str, int, Decimal, aware datetime)."""
    ops, slow = connection.ops, field.get_db_prep_save
    internal = field.get_internal_type()
    if internal == "DecimalField":
        digits, places = field.max_digits, field.decimal_places
        return lambda v: ops.adapt_decimalfield_value(v, digits, places) if type(v) is Decimal else slow(v, connection)
    if internal == "DateTimeField":
        return lambda v: (
            ops.adapt_datetimefield_value(v)
            if type(v) is datetime and v.tzinfo is not None
            else slow(v, connection)
        )  # fmt: skip
    if internal in TEXT:  # to_python hands any str over as it is (a TextChoices member too)
        return lambda v: v if v is None or isinstance(v, str) else slow(v, connection)
    if internal in PLAIN:  # an IntegerChoices member is made an int: the slow way
        return lambda v: v if v is None or type(v) in (int, bool) else slow(v, connection)
    return lambda v: slow(v, connection)


def _getter(field: models.Field) -> Callable[[models.Model], Any]:
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.pre_save(obj, True)  # sets the stamp on the object, as a save does
    attname = field.attname
    return lambda obj: getattr(obj, attname)


@cache
def _layout(model: type[models.Model]) -> tuple[list[str], dict[str, Any], list[models.Field]]:
    """The model's columns in order, the defaults that are values, and the fields whose default is called."""
    fields = model._meta.concrete_fields
    called = [f for f in fields if f.has_default() and callable(f.default)]
    fixed = {f.attname: f.get_default() for f in fields if f not in called}
    return [f.attname for f in fields], fixed, called


def row_new(model: type[M], **values: Any) -> M:
    """A new, unsaved instance from attribute names (`owner_id`, not `owner`), the others at
    their defaults: built by position, as the ORM builds a row it reads, without the keyword
    path's per-field work - for the many rows of one bulk insert."""
    attnames, fixed, called = _layout(model)
    row = {**fixed, **{f.attname: f.get_default() for f in called}, **values}
    if len(row) != len(attnames):
        raise TypeError(f"{model.__name__} has no field(s) {sorted(set(row) - set(attnames))}")
    return model(*[row[name] for name in attnames])


def rows_insert(objects: Sequence[models.Model], *, unique: Sequence[str] = ()) -> list[models.Model]:
    """INSERT these new objects (all of one model, no primary key yet) in a few statements of
    many rows, storing what bulk_create stores; sets each one's primary key and returns them.
    `unique`: the fields of a unique constraint: a row that would break it is skipped (ON
    CONFLICT DO NOTHING), and only the objects stored are returned."""
    if not objects:
        return []
    meta = type(objects[0])._meta
    pk = meta.pk
    columns = [f for f in meta.concrete_fields if f is not pk]
    getters = [_getter(f) for f in columns]
    adapters = [_adapter(f) for f in columns]
    quote = connection.ops.quote_name
    keys = [meta.get_field(name) for name in unique]
    into = f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in columns)}) "
    tail = (f" ON CONFLICT ({', '.join(quote(f.column) for f in keys)}) DO NOTHING" if keys else "") + (
        f" RETURNING {', '.join(quote(f.column) for f in [pk, *keys])}"
    )
    stored = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array per column: a statement of as many parameters as columns, however many
            # rows (psycopg parses a query's placeholders one by one, and counts them in 16 bits).
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in columns)
            names = ", ".join(f"c{i}" for i in range(len(columns)))
            sql = f"{into}SELECT {names} FROM unnest({arrays}) WITH ORDINALITY AS u({names}, n) ORDER BY n{tail}"  # noqa: S608
            for start in range(0, len(objects), ARRAY_ROWS):
                batch = objects[start : start + ARRAY_ROWS]
                params = [[adapt(get(obj)) for obj in batch] for get, adapt in zip(getters, adapters, strict=True)]
                cursor.execute(sql, params)
                stored.extend(_returned(batch, cursor.fetchall(), keys))
        else:
            placeholder = "(" + ", ".join(["%s"] * len(columns)) + ")"
            size = max(1, min(INSERT_ROWS, _max_params() // len(columns)))
            for start in range(0, len(objects), size):
                batch = objects[start : start + size]
                params = [adapt(get(obj)) for obj in batch for get, adapt in zip(getters, adapters, strict=True)]
                cursor.execute(into + "VALUES " + ", ".join([placeholder] * len(batch)) + tail, params)
                stored.extend(_returned(batch, cursor.fetchall(), keys))
    for obj in stored:
        obj._state.adding, obj._state.db = False, connection.alias
    return stored


def _max_params() -> int:
    """Bind parameters per statement: this SQLite build's limit (32,766 by default since 3.32,
    999 before), the backend's own, or PostgreSQL's."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return connection.connection.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    return connection.features.max_query_params or MAX_PARAMS


def _returned(batch: Sequence[models.Model], rows: list[tuple], keys: list[models.Field]) -> list[models.Model]:
    pk = type(batch[0])._meta.pk
    if not keys:  # every row stored, returned in the order given (as bulk_create relies on)
        for obj, (value,) in zip(batch, rows, strict=True):
            setattr(obj, pk.attname, value)
        return list(batch)
    by_key = {tuple(row[1:]): row[0] for row in rows}
    stored = []
    for obj in batch:
        value = by_key.pop(tuple(getattr(obj, f.attname) for f in keys), None)
        if value is not None:
            setattr(obj, pk.attname, value)
            stored.append(obj)
    return stored


def rows_update(objects: Sequence[models.Model], fields: list[str], *, where: str = "", params: Sequence = ()) -> int:
    """Write each object's `fields` to its row (by primary key) in one executemany: one
    pipeline on PostgreSQL, where bulk_update's CASE per field costs more than the rows it
    writes. `where` (SQL with `params`) is added to every row's condition, so a row that no
    longer matches is left alone; returns how many rows were written."""
    if not objects:
        return 0
    meta = type(objects[0])._meta
    columns = [meta.get_field(name) for name in fields]
    adapters = [_adapter(f) for f in columns]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in columns)
    condition = f"{quote(meta.pk.column)} = %s" + (f" AND {where}" if where else "")
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {condition}"  # noqa: S608 - the model's names
    rows = [
        [adapt(getattr(obj, f.attname)) for f, adapt in zip(columns, adapters, strict=True)] + [obj.pk, *params]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)
        return cursor.rowcount
