import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from knox.models import AuthToken

from accounts.models import DemoCredentials, User
from accounts.services import api_token_create


def run_demo(*args: str) -> dict:
    out = io.StringIO()
    call_command("demo", *args, "--json", stdout=out)
    return json.loads(out.getvalue())


@pytest.mark.django_db
def test_demo_prints_credentials_that_work(client):
    result = run_demo("--user", "paper")

    assert set(result) == {"username", "password", "api_token", "webhook_url", "accounts"}
    assert result["username"] == "paper"
    assert len(result["accounts"]) == 2
    assert {a["server"] for a in result["accounts"]} == {"SimBroker-Demo", "SimStandard-Demo"}
    assert all(set(a) == {"id", "login", "server", "symbols"} and a["symbols"] for a in result["accounts"])
    assert result["webhook_url"].startswith("http://127.0.0.1:8000/webhook/whk_")
    # django-axes checks every password sign-in against its lockouts: it needs the request.
    assert client.login(request=HttpRequest(), username="paper", password=result["password"])
    client.logout()
    status = client.get("/auth/status", headers={"Authorization": f"Token {result['api_token']}"}).json()
    assert status["user"]["username"] == "paper"
    webhook_path = result["webhook_url"].removeprefix("http://127.0.0.1:8000")
    assert client.post(webhook_path, "{}", content_type="application/json").status_code == 400


def works(client, result: dict) -> dict[str, bool]:
    """Which of the printed credentials are accepted now."""
    signed_in = client.login(request=HttpRequest(), username=result["username"], password=result["password"])
    client.logout()
    key = client.get("/auth/status", headers={"Authorization": f"Token {result['api_token']}"})
    webhook = client.post(result["webhook_url"].removeprefix("http://127.0.0.1:8000"), "{}",
                          content_type="application/json")  # fmt: skip
    return {"password": signed_in, "api_token": key.status_code == 200, "webhook_url": webhook.status_code == 400}


EVERY = {"password": True, "api_token": True, "webhook_url": True}


@pytest.mark.django_db
def test_demo_again_shows_the_same_credentials_and_they_keep_working(client):
    # `make run DEMO=1` after a restart: an alert already pasted into TradingView still works.
    first = run_demo()
    second = run_demo()

    assert second == first
    assert User.objects.filter(username="demo").count() == 1
    assert works(client, second) == EVERY
    assert run_demo("--accounts", "3")["accounts"][:2] == second["accounts"]


@pytest.mark.django_db
def test_demo_reset_issues_new_credentials_and_the_old_ones_stop(client):
    old = run_demo()

    new = run_demo("--reset")

    assert new["username"] == old["username"] and new["accounts"] == old["accounts"]
    assert all(new[key] != old[key] for key in ("password", "api_token", "webhook_url"))
    assert works(client, old) == {"password": False, "api_token": False, "webhook_url": False}
    assert works(client, new) == EVERY
    assert run_demo() == new


@pytest.mark.django_db
def test_demo_replaces_only_what_the_trader_changed_since(client):
    first = run_demo()
    trader = User.objects.get(username="demo")
    trader.set_password("changed-by-the-trader-1")
    trader.save()
    AuthToken.objects.filter(user=trader).delete()  # revoked under Settings
    kept = api_token_create(user=trader)  # and a key of their own

    again = run_demo()

    assert again["webhook_url"] == first["webhook_url"]
    assert again["password"] != first["password"] and again["api_token"] != first["api_token"]
    assert works(client, again) == EVERY
    assert client.get("/auth/status", headers={"Authorization": f"Token {kept}"}).status_code == 200


@pytest.mark.django_db
def test_demo_keeps_its_copy_of_the_credentials_encrypted():
    result = run_demo()

    stored = json.dumps(list(DemoCredentials.objects.values()), default=str)
    assert result["password"] not in stored and result["api_token"] not in stored


@pytest.mark.django_db
@pytest.mark.parametrize("args", [["--user", ""], ["--user", "bad name!"], ["--accounts", "-1"], ["--accounts", "51"]])
def test_demo_refuses_bad_arguments_and_creates_nothing(args):
    with pytest.raises(CommandError):
        run_demo(*args)

    assert not User.objects.exists()


@pytest.mark.django_db
def test_demo_never_touches_an_operator(operator):
    with pytest.raises(CommandError, match="is an operator"):
        run_demo("--user", operator.username)

    assert User.objects.get(pk=operator.pk).check_password("correct horse battery staple")
