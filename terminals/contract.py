"""The accounts API as its first contract wrote it, beside today's fields.

Its names are aliases of today's columns (account_name is the nickname, account_type the
demo flag); its risk_limits object holds fractions of the balance (0.03 = 3 %), never the
amounts today's max_daily_loss holds. A key of it that nothing reads is a 400: it would
change how much is traded if it meant anything.
"""

from decimal import Decimal

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError

from .selectors import account_current

# The contract's key in risk_limits → today's column.
RISK_LIMITS = {
    "max_risk_per_trade": "max_trade_risk_fraction",
    "max_daily_loss": "max_daily_loss_fraction",
    "max_positions": "max_open_positions",
}
FRACTION_HINT = "a fraction of the balance, more than 0 and at most 1 (0.03 = 3 %), or null for no limit"
MAX_POSITIONS = 1000
# Contract name → today's name, in bodies: both in one body must say the same.
ALIASES = {"account_name": "nickname", "broker_name": "broker", "account_type": "is_demo"}


def fraction_parse(value: object) -> Decimal | None:
    """A share of the balance as JSON gives it (a number, never a string), or None for no
    limit; ValidationError saying what is wrong."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationError(f"Must be {FRACTION_HINT}; not {type(value).__name__}.")
    number = Decimal(str(value))
    if not number.is_finite() or not 0 < number <= 1:
        raise ValidationError(f"Must be {FRACTION_HINT}; {str(value)[:20]} is outside.")
    if number.as_tuple().exponent < -4:
        raise ValidationError("At most four decimal places (0.0125 = 1.25 %).")
    return number


def _positions_parse(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_POSITIONS:
        raise ValidationError(f"Must be a whole number of positions from 0 to {MAX_POSITIONS}, or null for no limit.")
    return value


_LIMIT = {"type": "number", "nullable": True, "minimum": 0, "exclusiveMinimum": True, "maximum": 1}


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "max_risk_per_trade": {
                **_LIMIT,
                "description": f"loss at the stop loss of one new position: {FRACTION_HINT}",
            },
            "max_daily_loss": {**_LIMIT, "description": f"today's loss that stops new positions: {FRACTION_HINT}"},
            "max_positions": {"type": "integer", "nullable": True, "minimum": 0, "maximum": MAX_POSITIONS},
        },
    }
)
class RiskLimitsField(serializers.Field):
    """`risk_limits`: {max_risk_per_trade, max_daily_loss, max_positions}, read from and
    written to the account's own columns (every key optional; null removes a limit)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", required=False, **kwargs)

    def to_representation(self, account) -> dict:
        risk, loss = account.max_trade_risk_fraction, account.max_daily_loss_fraction
        return {
            "max_risk_per_trade": float(risk) if risk is not None else None,
            "max_daily_loss": float(loss) if loss is not None else None,
            "max_positions": account.max_open_positions,
        }

    def to_internal_value(self, data) -> dict:
        if not isinstance(data, dict):
            raise ValidationError(f"An object with any of {', '.join(RISK_LIMITS)}.")
        if unknown := sorted(f'"{str(key)[:40]}"' for key in data if key not in RISK_LIMITS):
            raise ValidationError(
                f"Unknown risk limit(s): {', '.join(unknown[:20])}. Known: max_risk_per_trade and max_daily_loss "
                f"({FRACTION_HINT}) and max_positions."
            )
        values, errors = {}, {}
        for key, value in data.items():
            try:
                parse = _positions_parse if key == "max_positions" else fraction_parse
                values[RISK_LIMITS[key]] = parse(value)
            except ValidationError as error:
                errors[key] = error.detail
        if errors:
            raise ValidationError(errors)
        return values


class AccountTypeField(serializers.ChoiceField):
    """`account_type`: "demo" or "live", kept as the account's demo flag."""

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=["demo", "live"], source="is_demo", required=False, **kwargs)

    def to_representation(self, value: bool) -> str:
        return "demo" if value else "live"

    def to_internal_value(self, data) -> bool:
        return super().to_internal_value(data) == "demo"


class DefaultField(serializers.BooleanField):
    """`is_default`: the account that orders naming no account go to, the caller's current
    one (else their first: terminals.selectors.account_current). true makes it current."""

    def __init__(self, **kwargs) -> None:
        super().__init__(source="*", required=False, **kwargs)

    def to_representation(self, account) -> bool:
        request = self.context.get("request")
        if request is None:
            return account.is_current
        # Read once per response, when it is rendered: after an update that switched.
        root = self.root
        if not hasattr(root, "default_account"):
            root.default_account = account_current(user=request.user)
        return root.default_account is not None and root.default_account.pk == account.pk

    def to_internal_value(self, data) -> dict:
        return {"is_current": super().to_internal_value(data)}


def same_meaning_check(serializer: serializers.Serializer, pairs: dict[str, str]) -> None:
    """A body that gives one setting under two names (a contract alias and today's field, or
    risk_limits and today's column) with two values is refused: neither may win unseen."""
    body = serializer.initial_data
    errors = {}
    for name, other in pairs.items():
        if name in body and other in body:
            mine, theirs = (serializer.fields[n].run_validation(body[n]) for n in (name, other))
            if mine != theirs:
                errors[name] = [f"{name} and {other} are the same setting; they differ in this request."]
    limits = body.get("risk_limits")
    if isinstance(limits, dict) and "risk_limits" in serializer.fields:
        parsed = serializer.fields["risk_limits"].run_validation(limits)
        for key, column in RISK_LIMITS.items():
            if (
                key in limits
                and column in body
                and serializer.fields[column].run_validation(body[column]) != parsed[column]
            ):
                errors[column] = [f"risk_limits.{key} and {column} are the same limit; they differ in this request."]
    if errors:
        raise ValidationError(errors)
