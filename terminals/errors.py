"""Domain errors of the terminals app: what a request about an account or a symbol cannot do,
and why. Each surface (API, pages, commands) turns them into its own answer."""

from collections.abc import Sequence

SHOWN_CANDIDATES = 5  # a SymbolError names at most this many of the account's symbols


class AccountError(Exception):
    """A request about an account that cannot be carried out; the message says why.

    `code`: INVALID, the request itself is wrong (`field` names the input at fault), or
    CONFLICT, the request is fine but the account or its host cannot do it now."""

    INVALID = "invalid"
    CONFLICT = "conflict"

    def __init__(self, message: str, *, code: str = INVALID, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.field = message, code, field


class SymbolError(ValueError):
    """A requested symbol has no single symbol on an account; str() is a sentence for the trader."""

    def __init__(self, requested: str, candidates: Sequence[str] = ()) -> None:
        self.requested = requested
        self.candidates = list(candidates)
        super().__init__(self.describe())

    def describe(self) -> str:
        return f"{self.requested} cannot be traded on this account"

    # From the attributes, not args: a pickled error (a task result) reads the same after loading.
    def __str__(self) -> str:
        return self.describe()

    def _shown_candidates(self) -> str:
        shown = ", ".join(self.candidates[:SHOWN_CANDIDATES])
        if (more := len(self.candidates) - SHOWN_CANDIDATES) > 0:
            shown += f" and {more} more"
        return shown


class SymbolInvalid(SymbolError):
    """The requested text cannot be a symbol at all (empty, too long, control characters)."""

    def __init__(self, requested: str, reason: str = "") -> None:
        self.reason = reason
        super().__init__(requested)

    def describe(self) -> str:
        return self.reason


class SymbolNotFound(SymbolError):
    def describe(self) -> str:
        if not self.candidates:
            return (
                f"{self.requested} is not offered on this account and no similar symbol was found; add a custom mapping"
            )
        return (
            f"{self.requested} is not offered on this account; similar symbols: {self._shown_candidates()}; "
            "add a custom mapping"
        )


class SymbolMappingBroken(SymbolNotFound):
    """The trader's custom mapping names a symbol the terminal does not list."""

    def __init__(self, requested: str, candidates: Sequence[str] = (), broker_symbol: str = "") -> None:
        self.broker_symbol = broker_symbol
        super().__init__(requested, candidates)

    def describe(self) -> str:
        sentence = (
            f"The custom mapping sends {self.requested} to {self.broker_symbol}, which this account does not offer; "
            "fix or delete the mapping"
        )
        if self.candidates:
            sentence += f" (similar symbols: {self._shown_candidates()})"
        return sentence


class SymbolAmbiguous(SymbolError):
    def describe(self) -> str:
        return (
            f"{self.requested} matches several symbols on this account: {self._shown_candidates()}; "
            "add a custom mapping"
        )
