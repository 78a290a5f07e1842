"""Reading the journal: a trader's deals and trades, filtered as the Journal page and the API ask.

SIGNATURES ONLY: being written; the bodies raise until then."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from .models import Deal, Trade


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


class FilterError(ValueError):
    """A filter that cannot be read (a bad date, an unknown side); `errors`: field → message.
    An account or copy pair that is not the trader's is not this: it is `Http404` to the caller."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def journal_filter(params, *, user) -> JournalFilter:
    """The filter in a QueryDict (page or API), checked: FilterError for bad values, Http404 for
    an account or copy pair the user does not own."""
    raise NotImplementedError


def trades(*, user, filters: JournalFilter) -> QuerySet[Trade]:
    """The user's closed trades, newest close first."""
    raise NotImplementedError


def deals(*, user, filters: JournalFilter) -> QuerySet[Deal]:
    """The user's deals, newest first (money movements too, unless a symbol or side is chosen)."""
    raise NotImplementedError
