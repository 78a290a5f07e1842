"""Domain errors of the terminals app: what a request about an account cannot do, and why.
Each surface (API, pages, commands) turns them into its own answer."""


class AccountError(Exception):
    """A request about an account that cannot be carried out; the message says why.

    `code`: INVALID, the request itself is wrong (`field` names the input at fault), or
    CONFLICT, the request is fine but the account or its host cannot do it now."""

    INVALID = "invalid"
    CONFLICT = "conflict"

    def __init__(self, message: str, *, code: str = INVALID, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.code, self.field = message, code, field
