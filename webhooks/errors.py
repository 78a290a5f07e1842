"""Why a signal placed nothing: the webhooks app's domain errors (webhooks.answers words them in HTTP)."""


class SignalError(Exception):
    """A signal placed nothing; `detail` is one line for the trader."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class SignalRefused(SignalError):
    """The alert cannot be placed as sent (a field, its accounts, its symbol, a lot limit):
    `errors` maps each field to its messages. signal_receive keeps it in the trader's history."""

    def __init__(self, detail: str, errors: dict[str, list[str]]) -> None:
        super().__init__(detail)
        self.errors = errors


class SignalBusy(SignalError):
    """Another request is placing the same alert (its id, or its very body) at this moment."""
