"""The Journal page (/journal): closed trades and deals with filters and totals, statistics per
currency, breakdowns, the P&L calendar and the balance/equity curves. Its parts are served alone
too, so the page reloads them through htmx on each `deal` and `trade_closed` event."""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import urlencode

from . import page_data, stats
from .models import Source
from .selectors import FilterError, JournalFilter, deals, journal_filter, trades

PAGE_SIZE = 50
FILTER_PARAMS = ("account", "symbol", "side", "source", "strategy", "copy_pair", "since", "until")


def _filters(request: HttpRequest) -> tuple[JournalFilter | None, dict[str, str]]:
    """The chosen filter, or None and the errors by field. Another trader's account or pair
    raises Http404 from the selector, as a missing one does."""
    try:
        return journal_filter(request.GET, user=request.user), {}
    except FilterError as error:
        return None, error.errors


def _query(request: HttpRequest) -> str:
    """The filter alone, as a query string (links keep it; page numbers and the tab are not in it)."""
    query = request.GET.copy()
    for name in list(query):
        if name not in FILTER_PARAMS or not query.get(name):
            query.pop(name)
    return query.urlencode()


def _trades_context(request: HttpRequest, filters: JournalFilter) -> dict:
    closed = trades(user=request.user, filters=filters)
    # Each row names its account: read with the page's rows, not once a row.
    page = Paginator(closed.select_related("account"), PAGE_SIZE).get_page(request.GET.get("page"))
    return {"trades": page, "totals": page_data.trade_totals(closed)}


def _deals_context(request: HttpRequest, filters: JournalFilter) -> dict:
    rows = deals(user=request.user, filters=filters).select_related("account")
    page: Page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("deals_page"))
    return {"deals": page}


def _stats_context(request: HttpRequest, filters: JournalFilter) -> dict:
    closed = trades(user=request.user, filters=filters)
    return {"figures": stats.figures(closed, page_data.money_movements(user=request.user, filters=filters))}


def _breakdowns_context(request: HttpRequest, filters: JournalFilter) -> dict:
    return {"breakdowns": page_data.breakdowns(trades(user=request.user, filters=filters), user=request.user)}


def _calendar_context(request: HttpRequest, filters: JournalFilter) -> dict:
    return {"months": page_data.calendar_months(trades(user=request.user, filters=filters))}


# Each part of the page, served alone for htmx: its context and its template journal/_<part>.html.
PARTS = {"trades": _trades_context, "deals": _deals_context, "stats": _stats_context,
         "breakdowns": _breakdowns_context, "calendar": _calendar_context}  # fmt: skip
TABS = ("trades", "deals", "breakdowns", "calendar")
INLINE = ("trades", "deals")


@login_required
def journal_page(request: HttpRequest) -> HttpResponse:
    filters, errors = _filters(request)
    query = _query(request)
    tab = request.GET.get("tab")
    context = {
        "params": request.GET,
        "errors": errors,
        "sources": Source.choices,
        "query": query,
        "tab": tab if tab in TABS else "trades",
        **page_data.filter_choices(user=request.user),
    }
    if filters is None:
        return render(request, "journal/journal.html", context, status=400)
    # The trades and deals are on the page; the statistics, breakdowns and calendar (aggregates over
    # every trade of the filter) load as parts of their own, so the page answers in one list's time.
    for part in INLINE:
        context |= PARTS[part](request, filters)
    pages = urlencode({"page": context["trades"].number, "deals_page": context["deals"].number})
    shown = f"{query}&{pages}" if query else pages
    context |= {
        "chart": page_data.chart_data(user=request.user, filters=filters),
        # What the live script reloads: each part as shown, same filter, same page.
        "part_urls": {name: f"/journal/{name}?{shown}" for name in PARTS},
    }
    return render(request, "journal/journal.html", context)


@login_required
def journal_part(request: HttpRequest, part: str) -> HttpResponse:
    if part not in PARTS:
        raise Http404
    filters, errors = _filters(request)
    if filters is None:
        # A part asked with a filter that cannot be read: 400, the reasons as the page says them.
        return render(request, "journal/_refused.html", {"errors": errors}, status=400)
    context = {"query": _query(request), **PARTS[part](request, filters)}
    return render(request, f"journal/_{part}.html", context)
