import pytest

from terminals.models import TerminalHost, TradingAccount
from terminals.services import account_connect


@pytest.mark.django_db
def test_operator_sees_accounts_and_hosts_without_any_password(client, operator, alice):
    account = account_connect(
        owner=alice, login="8300001", password="visible-nowhere-pw", server="SimBroker-Demo", kind="simulated"
    )
    client.force_login(operator)

    pages = [
        client.get("/admin/terminals/tradingaccount/").text,
        client.get(f"/admin/terminals/tradingaccount/{account.pk}/change/").text,
        client.get("/admin/terminals/terminalhost/").text,
    ]

    assert "8300001" in pages[0] and "simulated" in pages[2]
    for page in pages:
        assert "visible-nowhere-pw" not in page and account.password not in page


@pytest.mark.django_db
def test_operator_moves_an_account_to_another_host(client, operator, alice):
    account = account_connect(owner=alice, login="8300002", password="pw", server="SimBroker-Demo", kind="simulated")
    spare = TerminalHost.objects.create(name="sim-2", queue_name="sim-2", kind="simulated", online=True)
    client.force_login(operator)

    response = client.post(
        f"/admin/terminals/tradingaccount/{account.pk}/change/",
        {
            "broker": "",
            "nickname": "moved",
            "is_demo": "on",
            "host": spare.pk,
            "allowed_symbols": "[]",
            "max_trades_per_hour": "100",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )

    assert response.status_code == 302, response.content[:2000]
    assert TradingAccount.objects.get(pk=account.pk).host == spare


@pytest.mark.django_db
def test_admin_refuses_a_move_to_a_full_or_wrong_kind_host(client, operator, alice):
    account = account_connect(owner=alice, login="8300003", password="pw", server="SimBroker-Demo", kind="simulated")
    windows = TerminalHost.objects.create(name="win-9", queue_name="win-9", kind="windows", online=True)
    client.force_login(operator)

    response = client.post(
        f"/admin/terminals/tradingaccount/{account.pk}/change/",
        {"broker": "", "nickname": "", "is_demo": "on", "host": windows.pk, "allowed_symbols": "[]",
         "max_trades_per_hour": "100", "events-TOTAL_FORMS": "0", "events-INITIAL_FORMS": "0"},
    )  # fmt: skip

    assert response.status_code == 200 and "needs a simulated host" in response.text
    assert TradingAccount.objects.get(pk=account.pk).host.kind == "simulated"
    assert "win-9" in client.get("/admin/terminals/terminalhost/").text
