"""A worker that dies mid-drain, as its database connection sees it: the connection drops at a
chosen statement (Django's execute_wrapper), and what was not committed is rolled back."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection


def recording_final_states(sql: str) -> bool:
    """The write of orders' final states."""
    return sql.startswith('UPDATE "terminals_order"') and '"done_at"' in sql


def paper_terminals_writing_deals(sql: str) -> bool:
    """The last write of a paper terminal's trade: its deals."""
    return sql.startswith('INSERT INTO "terminals_simdeal"')


@contextmanager
def connection_drops(at: Callable[[str], bool], *, after: bool = False) -> Iterator[list[str]]:
    """The connection drops once, at the first statement `at` picks: before it is sent, or just
    after it ran (`after`: its transaction then rolls back). Yields the statements dropped at."""
    dropped: list[str] = []

    def drop(execute, sql, params, many, context):
        if dropped or not at(sql):
            return execute(sql, params, many, context)
        dropped.append(sql)
        if after:
            execute(sql, params, many, context)
        raise DatabaseError("the connection dropped")  # as a worker dying there leaves it

    with connection.execute_wrapper(drop):
        yield dropped
