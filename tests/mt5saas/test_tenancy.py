import socket

import pytest
from django import forms
from pytest_socket import SocketConnectBlockedError

from mt5saas.forms import OwnedFormMixin
from terminals.models import SymbolMapping, TradingAccount
from tests.factories import TradingAccountFactory


class MappingForm(OwnedFormMixin, forms.ModelForm):
    class Meta:
        model = SymbolMapping
        fields = ["account", "requested", "broker_symbol"]


@pytest.mark.django_db
def test_form_choices_offer_only_the_users_own_rows(alice, bob):
    mine = TradingAccountFactory(owner=alice)
    theirs = TradingAccountFactory(owner=bob)

    offered = MappingForm(user=alice).fields["account"].queryset
    posted = MappingForm({"account": theirs.pk, "requested": "XAUUSD", "broker_symbol": "GOLD"}, user=alice)

    assert list(offered) == [mine]
    assert not posted.is_valid() and "account" in posted.errors


@pytest.mark.django_db
def test_owned_by_fails_closed(alice):
    TradingAccountFactory(owner=alice)
    alice.is_active = False

    assert not TradingAccount.objects.owned_by(None).exists()
    assert not TradingAccount.objects.owned_by(alice).exists()


def test_the_suite_cannot_reach_beyond_loopback():
    with pytest.raises(SocketConnectBlockedError), pytest.warns(UserWarning, match="192.0.2.10"):
        socket.create_connection(("192.0.2.10", 443), timeout=1)
