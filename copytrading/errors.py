"""What copy trading refuses, in its own words: each error has a code, a sentence for the trader
and the fields it names. None carries an HTTP status: copytrading/api.py and copytrading/views.py
each turn them into their answer in one place."""


class CopyError(Exception):
    """A request that cannot be carried out. `message` is a sentence for the trader; `errors`
    maps each named field (or non_field_errors) to its messages."""

    code = "copy_error"

    def __init__(self, message: str, *, field: str | None = None, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field
        self.errors = errors or {field or "non_field_errors": [message]}


class CopyRefused(CopyError):
    """The input breaks a rule: a field out of bounds, an account not the trader's, a pair that
    would close a cycle, an event that is not valid."""

    code = "refused"


class CopyConflict(CopyError):
    """The request is sound but the state forbids it now: a pair that exists already, a pair
    whose copies are still open or on their way."""

    code = "conflict"


class CopyKeyUnknown(CopyError):
    """No pair has this API key (unknown, rotated, or not a key at all)."""

    code = "key_unknown"


class CopyForbidden(CopyError):
    """The key is a pair's, but its owner is disabled or the event names another account."""

    code = "forbidden"
