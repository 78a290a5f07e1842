"""django-q2 entry points; each calls one function of the app."""

from . import equity


def equity_prune() -> dict[str, int]:
    # Scheduled hourly (django-q2 Schedule "journal: thin equity points", journal/apps.py).
    return equity.equity_prune()
