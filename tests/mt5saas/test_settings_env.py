"""The single-user bot's .env at start, in fresh processes as an operator meets it: the file is
read, its names are aliases of today's or refused in one line, rate limits in its format work
through HTTP, and no secret of it is ever printed."""

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests import servers

ROOT = Path(__file__).resolve().parents[2]
SECRET = "bot-smtp-secret-Zq81x"
TOKEN = "bot-webhook-token-0123456789abcdef"
SHOW = (
    "import json; from django.conf import settings as s; print(json.dumps({"
    "'public_url': s.PUBLIC_URL, 'email': [s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_HOST_USER,"
    " getattr(s, 'EMAIL_USE_TLS', False), getattr(s, 'EMAIL_USE_SSL', False)],"
    f" 'password_read': s.EMAIL_HOST_PASSWORD == {SECRET!r},"
    " 'from': s.DEFAULT_FROM_EMAIL, 'alert_email': s.ALERT_EMAIL, 'instance_root': s.MT5_INSTANCE_ROOT,"
    f" 'profile_source': s.MT5_PROFILE_SOURCE, 'token_read': s.WEBHOOK_TOKEN == {TOKEN!r},"
    " 'webhook_rate': s.WEBHOOK_RATE_LIMIT, 'api_rate': s.API_RATE_LIMIT}))"
)
# The .env the bot documented (without BASIC_USER/BASIC_PASS, which are refused below).
BOT_ENV = f"""\
# MT5 bot
WEBHOOK_TOKEN={TOKEN}
EXTERNAL_BASE_URL=https://bot.example.com/
INSTANCE_ROOT_PATH=C:\\mt5\\instances
MT5_PROFILE_SOURCE=C:\\Users\\trader\\AppData\\Roaming\\MetaQuotes\\Terminal\\ABC123
SMTP_SERVER=smtp.gmail.com
SMTP_PORT=587
EMAIL_USER=bot@example.com
EMAIL_PASS={SECRET}
ALERT_EMAIL=ops@example.com
WEBHOOK_RATE_LIMIT=10 per minute
API_RATE_LIMIT=20 per minute
"""


def service_env(**overrides: str) -> dict[str, str]:
    env = servers.service_env()
    # Not this process's values (the suite's rate limits, say): they would win over the file.
    for line in BOT_ENV.splitlines():
        env.pop(line.partition("=")[0], None)
    for name in ("PUBLIC_URL", "EMAIL_URL", "DEFAULT_FROM_EMAIL", "MT5_INSTANCE_ROOT", "BASIC_USER", "BASIC_PASS"):
        env.pop(name, None)
    return {**env, **overrides}


def run(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def show(env: dict[str, str], cwd: Path = ROOT) -> dict:
    result = run(["shell", "-c", SHOW], env, cwd)
    assert result.returncode == 0, result.stderr
    assert SECRET not in result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_bots_env_file_is_read_as_todays_settings(tmp_path):
    (tmp_path / ".env").write_text(BOT_ENV)

    assert show(service_env(ENV_FILE=str(tmp_path / ".env"))) == {
        "public_url": "https://bot.example.com",
        "email": ["django.core.mail.backends.smtp.EmailBackend", "smtp.gmail.com", 587, "bot@example.com", True, False],
        "password_read": True,
        "from": "bot@example.com",
        "alert_email": "ops@example.com",
        "instance_root": "C:\\mt5\\instances",
        "profile_source": "C:\\Users\\trader\\AppData\\Roaming\\MetaQuotes\\Terminal\\ABC123",
        "token_read": True,
        "webhook_rate": "10/m",
        "api_rate": "20/m",
    }


def test_the_environment_wins_over_the_env_file(tmp_path):
    (tmp_path / ".env").write_text(BOT_ENV)

    shown = show(service_env(ENV_FILE=str(tmp_path / ".env"), API_RATE_LIMIT="5/h", EMAIL_PASS="from-the-environment"))

    assert shown["api_rate"] == "5/h"
    assert shown["password_read"] is False


def test_the_env_file_in_the_project_folder_is_read_unless_env_file_is_empty(tmp_path):
    # A copy of the project: the real folder may hold the developer's own .env.
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "manage.py", project)
    for package in ROOT.iterdir():
        if (package / "__init__.py").exists() and package.name not in {"tests", "bench"}:
            shutil.copytree(package, project / package.name, ignore=shutil.ignore_patterns("__pycache__"))
    (project / ".env").write_text("API_RATE_LIMIT=7 per hour\n")
    env = service_env()

    env.pop("ENV_FILE")
    assert show(env, cwd=project)["api_rate"] == "7/h"
    # How the test suite runs every process (pyproject.toml): no .env at all.
    assert os.environ["ENV_FILE"] == ""
    assert show({**env, "ENV_FILE": ""}, cwd=project)["api_rate"] == "20/m"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"WEBHOOK_RATE_LIMIT": "10 per fortnight"},
         "WEBHOOK_RATE_LIMIT must be a count per second, minute, hour or day, like \"10/m\" or \"10 per minute\", "
         "not '10 per fortnight'"),
        ({"API_RATE_LIMIT": "100 per 2 hours"},
         "API_RATE_LIMIT must be a count per second, minute, hour or day, like \"10/m\" or \"10 per minute\", "
         "not '100 per 2 hours'"),
        ({"BASIC_USER": "admin", "BASIC_PASS": SECRET},
         "BASIC_USER and BASIC_PASS no longer apply: people sign in at /login (Google, or a password when "
         "PASSWORD_LOGIN=1; create an operator with `manage.py createsuperuser`). "
         "Remove BASIC_USER and BASIC_PASS from the environment and .env"),
        ({"PUBLIC_URL": "https://mt5saas.example.com", "EXTERNAL_BASE_URL": "https://bot.example.com"},
         "PUBLIC_URL and EXTERNAL_BASE_URL (its old name) are set to different values: keep PUBLIC_URL only"),
        ({"EMAIL_URL": "smtp+tls://bot%40example.com:other@smtp.gmail.com:587", "SMTP_SERVER": "smtp.gmail.com",
          "EMAIL_USER": "bot@example.com", "EMAIL_PASS": SECRET},
         "EMAIL_URL and SMTP_SERVER/SMTP_PORT/EMAIL_USER/EMAIL_PASS (its old names) differ: keep EMAIL_URL only"),
        ({"SMTP_SERVER": "smtp.gmail.com", "EMAIL_PASS": SECRET},
         "EMAIL_PASS needs EMAIL_USER, the account it signs in as"),
    ],
)
def test_a_setting_that_cannot_be_read_refuses_start_in_one_line(variables, message):
    result = run(["check"], service_env(**variables))

    assert result.returncode != 0
    assert result.stderr.strip() == f"mt5saas: {message}"
    assert SECRET not in result.stdout + result.stderr


def test_a_refusal_from_the_env_file_names_the_variable_and_hides_the_password(tmp_path):
    (tmp_path / ".env").write_text(BOT_ENV + f"BASIC_USER=admin\nBASIC_PASS={SECRET}\n")

    result = run(["check"], service_env(ENV_FILE=str(tmp_path / ".env")))

    assert result.returncode != 0
    assert result.stderr.strip().startswith("mt5saas: BASIC_USER and BASIC_PASS no longer apply")
    assert SECRET not in result.stdout + result.stderr


def test_the_bots_rate_limit_format_in_the_env_file_limits_a_real_server(tmp_path):
    (tmp_path / ".env").write_text("API_RATE_LIMIT=2 per minute\n")
    env = service_env(ENV_FILE=str(tmp_path / ".env"), DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}")
    daphne, base = servers.start_daphne(env, tmp_path / "daphne.log")
    try:
        answers = []
        for _ in range(3):
            try:
                with urllib.request.urlopen(f"{base}/auth/status", timeout=10) as answer:
                    answers.append((answer.status, None))
            except urllib.error.HTTPError as error:
                answers.append((error.code, error.headers.get("Retry-After")))
    finally:
        servers.stop(daphne)

    assert [status for status, _ in answers] == [200, 200, 429]
    assert 59 <= int(answers[2][1]) <= 60
