from decimal import Decimal

from django import forms

from terminals.models import TradingAccount

from .models import CopyExecution, CopyPair


class PairForm(forms.Form):
    master = forms.ModelChoiceField(queryset=TradingAccount.objects.none())
    slave = forms.ModelChoiceField(queryset=TradingAccount.objects.none())
    volume_mode = forms.ChoiceField(choices=CopyPair.VolumeMode.choices, initial=CopyPair.VolumeMode.MULTIPLY)
    multiplier = forms.DecimalField(max_digits=10, decimal_places=4, min_value=Decimal("0.0001"), initial=1)
    fixed_volume = forms.DecimalField(max_digits=10, decimal_places=2, min_value=Decimal("0.01"), initial="0.01")
    copy_sl_tp = forms.BooleanField(required=False, initial=True, label="Copy TP/SL")
    auto_symbol_map = forms.BooleanField(required=False, initial=True, label="Automatic symbol mapping")
    symbol_map = forms.CharField(
        required=False, max_length=2000, label="Custom mapping",
        help_text="One per line or comma separated: XAUUSD=GOLD",
    )  # fmt: skip
    active = forms.BooleanField(required=False, initial=True)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The caller's live accounts only: another trader's id is "not one of the choices".
        mine = TradingAccount.objects.owned_by(user).alive().order_by("pk")
        self.fields["master"].queryset = self.fields["slave"].queryset = mine
        for name in ("master", "slave", "volume_mode"):
            self.fields[name].widget.attrs["class"] = "form-select"
        for name in ("multiplier", "fixed_volume"):
            self.fields[name].widget.attrs["class"] = "form-control"

    def clean_symbol_map(self) -> dict[str, str]:
        text = self.cleaned_data["symbol_map"]
        pairs = {}
        for entry in text.replace(",", "\n").splitlines():
            if not entry.strip():
                continue
            requested, sep, broker = entry.partition("=")
            if not sep or not requested.strip() or not broker.strip():
                raise forms.ValidationError(f"Write each mapping as MASTER=SLAVE, not {entry.strip()[:40]!r}.")
            pairs[requested.strip()] = broker.strip()
        return pairs


def symbol_map_text(symbol_map: dict) -> str:
    return "\n".join(f"{requested}={broker}" for requested, broker in symbol_map.items())


class CopyHistoryForm(forms.Form):
    """The Copy history page's filters; a foreign or unknown master is a form error."""

    status = forms.ChoiceField(choices=[("", "any result"), *CopyExecution.Status.choices], required=False)
    master = forms.ModelChoiceField(queryset=TradingAccount.objects.none(), required=False, empty_label="any master")
    symbol = forms.CharField(max_length=40, required=False)

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Deleted accounts too: their copies are history.
        self.fields["master"].queryset = TradingAccount.objects.owned_by(user).order_by("pk")
        self.fields["master"].label_from_instance = lambda account: account.nickname or account.login
