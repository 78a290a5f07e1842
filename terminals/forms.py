from django import forms

from .drivers.simulated import SERVERS
from .models import LOGIN_MESSAGE, LOGIN_PATTERN, TradingAccount


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
