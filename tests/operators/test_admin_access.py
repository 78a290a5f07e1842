"""The admin is for operators: a signed-in trader is told so, never sent round in circles."""

import pytest

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

ADMIN_PATHS = ["/admin/", "/admin/terminals/order/", "/admin/accounts/user/1/change/", "/admin/logout/"]


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_signed_in_trader_gets_not_an_operator_page_without_a_redirect_loop(client, settings, alice, path):
    settings.PASSWORD_LOGIN = True
    # Signed in through the one sign-in page, as a browser would be.
    assert client.post("/login", {"username": "alice", "password": PASSWORD}).status_code == 302

    # The test client raises RedirectCycleError on a loop.
    response = client.get(path, follow=True)

    assert response.redirect_chain == []
    assert response.status_code == 403
    assert "not an operator" in response.text
    assert 'href="/"' in response.text  # back to the dashboard


def test_trader_asking_for_json_gets_a_json_refusal(client, alice):
    client.force_login(alice)

    response = client.get("/admin/", HTTP_ACCEPT="application/json")

    assert response.status_code == 403 and "not an operator" in response.json()["detail"]


def test_trader_sent_from_the_admin_to_sign_in_ends_on_the_refusal_not_a_loop(client, settings, alice):
    settings.PASSWORD_LOGIN = True

    before = client.get("/admin/", follow=True)
    after = client.post("/login?next=/admin/", {"username": "alice", "password": PASSWORD}, follow=True)

    assert before.redirect_chain[-1][0] == "/login?next=%2Fadmin%2F" and before.status_code == 200
    assert after.redirect_chain == [("/admin/", 302)] and after.status_code == 403


def test_operator_still_reaches_the_admin(client, operator):
    client.force_login(operator)

    assert client.get("/admin/").status_code == 200
