"""django-q2 entry points; each calls one function of the app."""

from . import equity


def equity_prune() -> dict[str, int]:
    # Scheduled hourly by migration 0002 (django-q2 Schedule "journal: thin equity points").
    return equity.equity_prune()
