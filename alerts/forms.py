from django import forms

from .models import Endpoint, PriceAlert


class EndpointForm(forms.Form):
    name = forms.CharField(max_length=80, required=False)
    # The length is checked by the service (with a clear message), not cut by the field.
    url = forms.CharField(max_length=10_000, label="URL")
    style = forms.ChoiceField(choices=Endpoint.Style.choices, initial=Endpoint.Style.GENERIC, label="Body")


class PriceAlertForm(forms.Form):
    name = forms.CharField(max_length=80, required=False)
    account = forms.ModelChoiceField(queryset=None)
    symbol = forms.CharField(max_length=40)
    condition = forms.ChoiceField(choices=PriceAlert.Condition.choices)
    # Text: the service parses it and says what is wrong with "abc", "-1" or "1e400".
    price = forms.CharField(max_length=40)
    repeat = forms.BooleanField(required=False, label="Repeat")
    cooldown_minutes = forms.CharField(max_length=10, initial="60", label="Cool-down (minutes)")

    def __init__(self, *args, accounts, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The caller's live accounts only: another trader's id is "not one of the choices".
        self.fields["account"].queryset = accounts
        for name, field in self.fields.items():
            if name != "repeat":
                field.widget.attrs["class"] = "form-select" if isinstance(field, forms.ChoiceField) else "form-control"
