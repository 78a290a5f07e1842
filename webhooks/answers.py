"""What the webhooks app answers over HTTP (docs/webhook.md, docs/api.md): one mapping of a
signal's outcome to a status and a JSON body, for POST /webhook, POST /api/v1/orders/ and the
reply a refused signal keeps (a repeat of its id gets it again)."""

from typing import TYPE_CHECKING

from .errors import SignalError, SignalRefused

if TYPE_CHECKING:
    from .services import SignalAccepted

Answer = tuple[int, dict]


def accepted_answer(accepted: "SignalAccepted") -> Answer:
    """202: the signal and its orders (order id, account id), all queued."""
    body = {
        "signal": accepted.signal_id,
        "orders": [{"id": pk, "account": account, "status": "queued"} for pk, account in accepted.orders],
    }
    if accepted.ignored_fields:
        body["ignored_fields"] = list(accepted.ignored_fields)
    return 202, body


def error_answer(error: SignalError) -> Answer:
    """400 with every field's errors for a refused signal; 409 while the same alert is being placed."""
    if isinstance(error, SignalRefused):
        return 400, {"detail": error.detail, "errors": error.errors}
    return 409, {"detail": error.detail}
