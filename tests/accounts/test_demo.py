import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.http import HttpRequest

from accounts.models import User


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


@pytest.mark.django_db
def test_demo_again_reuses_the_user_and_replaces_every_credential(client):
    first = run_demo()
    second = run_demo()

    assert first["username"] == second["username"] == "demo"
    assert first["accounts"] == second["accounts"]
    assert User.objects.filter(username="demo").count() == 1
    assert not client.login(request=HttpRequest(), username="demo", password=first["password"])
    assert client.login(request=HttpRequest(), username="demo", password=second["password"])
    client.logout()
    old_key = client.get("/auth/status", headers={"Authorization": f"Token {first['api_token']}"})
    assert old_key.status_code == 401
    old_path = first["webhook_url"].removeprefix("http://127.0.0.1:8000")
    assert client.post(old_path, "{}", content_type="application/json").status_code == 404
    assert run_demo("--accounts", "3")["accounts"][:2] == second["accounts"]


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
