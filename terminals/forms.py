from decimal import Decimal

from django import forms

from .models import LOGIN_MESSAGE, LOGIN_PATTERN, TradingAccount
from .paper.market import SERVERS
from .symbols import SymbolError, symbol_normalize

HUNDRED = Decimal(100)


class ConnectForm(forms.Form):
    login = forms.RegexField(LOGIN_PATTERN, max_length=20, error_messages={"invalid": LOGIN_MESSAGE})
    password = forms.CharField(max_length=128, strip=False, widget=forms.PasswordInput(render_value=False))
    server = forms.CharField(max_length=100, help_text="As shown in MT5's login dialog, e.g. ICMarketsSC-Demo")
    kind = forms.ChoiceField(choices=TradingAccount.Kind.choices, initial=TradingAccount.Kind.SIMULATED)
    broker = forms.CharField(max_length=100, required=False)
    nickname = forms.CharField(max_length=60, required=False)
    is_demo = forms.BooleanField(required=False, initial=True, label="Demo account")

    simulated_servers = sorted(SERVERS)


class MappingForm(forms.Form):
    requested = forms.CharField(max_length=40, label="Signal symbol")
    broker_symbol = forms.CharField(max_length=40, label="On this account")


def _percent(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=False, min_value=Decimal("0.01"), max_value=HUNDRED, max_digits=5, decimal_places=2
    )


class RiskLimitsForm(forms.Form):
    """An account's risk guards as a trader edits them: shares of the balance in percent
    (3 = 3 %), kept as the account's fractions (0.03); an empty field is no limit."""

    max_lot = forms.DecimalField(
        label="Max lots per order", required=False, min_value=Decimal("0.01"), max_digits=10, decimal_places=2
    )
    max_open_positions = forms.IntegerField(label="Max open positions", required=False, min_value=0, max_value=1000)
    max_daily_loss = forms.DecimalField(
        label="Max daily loss, amount", required=False, min_value=1, max_digits=18, decimal_places=2,
        help_text="in the account currency",
    )  # fmt: skip
    max_daily_loss_percent = _percent("Max daily loss, % of the day's starting balance")
    max_trade_risk_percent = _percent("Max risk per trade, % of the balance")
    allowed_symbols = forms.CharField(
        label="Allowed symbols", required=False, max_length=5000, help_text="comma separated; empty: every symbol"
    )
    max_trades_per_hour = forms.IntegerField(label="Max trades per hour", min_value=0, max_value=10_000)

    @classmethod
    def of(cls, account: TradingAccount) -> "RiskLimitsForm":
        """The form holding the account's current limits."""

        def percent(fraction: Decimal | None) -> Decimal | None:
            return None if fraction is None else (fraction * HUNDRED).normalize()

        return cls(
            initial={
                "max_lot": account.max_lot,
                "max_open_positions": account.max_open_positions,
                "max_daily_loss": account.max_daily_loss,
                "max_daily_loss_percent": percent(account.max_daily_loss_fraction),
                "max_trade_risk_percent": percent(account.max_trade_risk_fraction),
                "allowed_symbols": ", ".join(account.allowed_symbols),
                "max_trades_per_hour": account.max_trades_per_hour,
            }
        )

    def clean_allowed_symbols(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["allowed_symbols"].split(",") if name.strip()]
        if len(names) > 500:
            raise forms.ValidationError("At most 500 symbols.")
        try:
            return sorted({symbol_normalize(name) for name in names})
        except SymbolError as error:
            raise forms.ValidationError(str(error)) from None

    def limits(self) -> dict:
        """The account's columns this form sets."""
        data = dict(self.cleaned_data)
        for percent, column in (
            ("max_daily_loss_percent", "max_daily_loss_fraction"),
            ("max_trade_risk_percent", "max_trade_risk_fraction"),
        ):
            value = data.pop(percent)
            data[column] = None if value is None else value / HUNDRED
        return data
