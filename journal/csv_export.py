"""CSV export of deals and trades, streamed: rows are read from the database in chunks as the
response is sent, so an export of 100,000 rows never sits in memory (under ASGI too, where
Django would otherwise drain a synchronous iterator into a list first)."""

import csv
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import datetime
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest, StreamingHttpResponse
from django.utils import timezone

# Spreadsheets run a cell starting with these as a formula (OWASP "CSV Injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# A plain number ("-12.50", "+3") is data, not a formula: it stays a number.
NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)")
CHUNK_ROWS = 2000  # read from the database at a time
LINES_PER_SEND = 500  # rows per piece sent under ASGI


class _Echo:
    """csv.writer writes into this and gets back the line it would have written."""

    def write(self, value: str) -> str:
        return value


def cell(value) -> str | Decimal | int:
    """One value as a cell: numbers and times as they are, text neutralised when a spreadsheet
    would run it (a quote in front, as OWASP advises), unless it is a plain number."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat()
    if isinstance(value, (Decimal, int)):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(text):
        return "'" + text
    return text


def lines(header: list[str], rows: Iterable[tuple]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([cell(value) for value in row])


def csv_response(request: HttpRequest, rows: QuerySet, header: list[str], filename: str) -> StreamingHttpResponse:
    """`rows`: a values_list() queryset in the header's order, streamed with a header row."""
    source = lines(header, rows.iterator(chunk_size=CHUNK_ROWS))
    content = _pieces(source) if isinstance(request, ASGIRequest) else source
    response = StreamingHttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"  # a trader's history, not for shared caches
    return response


async def _pieces(source: Iterator[str]) -> AsyncIterator[str]:
    # Each piece is read in Django's thread for this request (thread_sensitive), so the
    # database cursor the iterator holds stays on its own connection.
    while piece := await sync_to_async(_take)(source):
        yield piece


def _take(source: Iterator[str]) -> str:
    return "".join(line for _, line in zip(range(LINES_PER_SEND), source, strict=False))
