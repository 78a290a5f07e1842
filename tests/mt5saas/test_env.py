"""mt5saas.env, the readers settings use: the .env file, rate limits and the single-user bot's
names. Each is called as settings call it, with the environment set by the test."""

import os
from urllib.parse import quote

import environ
import pytest

from mt5saas import env as readers

SECRET = "bot-smtp-secret-p@ss:/w0rd"
OLD_NAMES = ["SMTP_SERVER", "SMTP_PORT", "EMAIL_USER", "EMAIL_PASS", "EMAIL_URL", "DEFAULT_FROM_EMAIL"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    for name in [
        *OLD_NAMES,
        "ENV_FILE",
        "PUBLIC_URL",
        "EXTERNAL_BASE_URL",
        "ALERT_EMAIL",
        "BASIC_USER",
        "BASIC_PASS",
        "MT5_INSTANCE_ROOT",
        "INSTANCE_ROOT_PATH",
        "RATE",
        "FROM_FILE",
        "IN_BOTH",
    ]:
        monkeypatch.delenv(name, raising=False)
    before = set(os.environ)
    yield
    # load_dotenv sets variables monkeypatch does not know about.
    for name in set(os.environ) - before:
        del os.environ[name]


def refusal(call) -> str:
    with pytest.raises(SystemExit) as refused:
        call()
    return str(refused.value.code)


# --- rate limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("10/m", "10/m"),
        ("10/s", "10/s"),
        ("5/h", "5/h"),
        ("100/d", "100/d"),
        ("10 per minute", "10/m"),
        ("20 per minute", "20/m"),
        ("1 per second", "1/s"),
        ("100 per hour", "100/h"),
        ("3 per day", "3/d"),
        ("10 PER Minute", "10/m"),
        ("10 per minutes", "10/m"),
        ("10/minute", "10/m"),
        ("10/min", "10/m"),
        (" 10 / hour ", "10/h"),
    ],
)
def test_rate_limit_accepts_the_bots_form_and_todays(monkeypatch, text, rate):
    monkeypatch.setenv("RATE", text)

    assert readers.rate_limit("RATE", default="20/m") == rate


def test_rate_limit_unset_or_empty_is_the_default(monkeypatch):
    assert readers.rate_limit("RATE", default="20/m") == "20/m"
    monkeypatch.setenv("RATE", "")
    assert readers.rate_limit("RATE", default="20/m") == "20/m"


@pytest.mark.parametrize(
    "text",
    [
        "10",
        "ten per minute",
        "10 per fortnight",
        "10 per month",
        "10/5m",
        "10 per 2 minutes",
        "0/m",
        "0 per minute",
        "-1/m",
        "10/m;100/h",
        "10 minute",
        "10perminute",
        "1" * 5000 + "/m",
        "\u0661\u0660/m",  # Arabic-Indic digits
        "10/m\nX=1",
    ],
)
def test_rate_limit_refuses_anything_else_in_one_line_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv("WEBHOOK_RATE_LIMIT", text)

    message = refusal(lambda: readers.rate_limit("WEBHOOK_RATE_LIMIT", default="10/m"))

    assert message.startswith("mt5saas: WEBHOOK_RATE_LIMIT must be a count per second, minute, hour or day")
    assert "\n" not in message


# --- the .env file -------------------------------------------------------------------


def test_env_file_is_read_and_the_environment_wins(tmp_path, monkeypatch):
    env_file = tmp_path / ".env"
    env_file.write_text("FROM_FILE=file\nIN_BOTH=file\n")
    monkeypatch.setenv("IN_BOTH", "environment")

    assert readers.read_env_file(env_file) == env_file

    assert os.environ["FROM_FILE"] == "file"
    assert os.environ["IN_BOTH"] == "environment"


def test_env_file_is_read_with_python_dotenv_rules(tmp_path, monkeypatch):
    # What the bot's load_dotenv made of these lines, which django-environ's read_env reads
    # otherwise (it keeps comments and trailing spaces and skips "NAME = value").
    (tmp_path / ".env").write_text(
        "\ufeffBASIC_LIKE_FIRST=first\n"
        "# a comment\n"
        "export RATE=10 per minute   # the bot's format\n"
        "PUBLIC_URL = https://bot.example.com\n"
        "INSTANCE_ROOT_PATH=C:\\mt5\\instances\n"
        "EMAIL_PASS='p#ss word'\n"
        'ALERT_EMAIL="ops@example.com"\n',
        encoding="utf-8",
    )

    readers.read_env_file(tmp_path / ".env")

    assert os.environ["BASIC_LIKE_FIRST"] == "first"
    assert os.environ["RATE"] == "10 per minute"
    assert os.environ["PUBLIC_URL"] == "https://bot.example.com"
    assert os.environ["INSTANCE_ROOT_PATH"] == "C:\\mt5\\instances"
    assert os.environ["EMAIL_PASS"] == "p#ss word"
    assert os.environ["ALERT_EMAIL"] == "ops@example.com"


def test_env_file_named_by_env_file_and_none_when_it_is_empty(tmp_path, monkeypatch):
    named = tmp_path / "bot.env"
    named.write_text("FROM_FILE=named\n")
    (tmp_path / ".env").write_text("FROM_FILE=default\n")

    monkeypatch.setenv("ENV_FILE", "")
    assert readers.read_env_file(tmp_path / ".env") is None
    assert "FROM_FILE" not in os.environ

    monkeypatch.setenv("ENV_FILE", str(named))
    assert readers.read_env_file(tmp_path / ".env") == named
    assert os.environ["FROM_FILE"] == "named"


def test_a_missing_default_env_file_is_fine_a_missing_named_one_is_refused(tmp_path, monkeypatch):
    assert readers.read_env_file(tmp_path / ".env") is None

    monkeypatch.setenv("ENV_FILE", str(tmp_path / "nope.env"))
    assert refusal(lambda: readers.read_env_file(tmp_path / ".env")) == (
        f"mt5saas: ENV_FILE names {tmp_path / 'nope.env'}, which does not exist"
    )


def test_an_env_file_with_a_line_it_cannot_read_is_refused_without_its_content(tmp_path):
    (tmp_path / ".env").write_text(f"FROM_FILE=ok\nEMAIL_PASS='{SECRET}\n")

    message = refusal(lambda: readers.read_env_file(tmp_path / ".env"))

    assert message == f"mt5saas: {tmp_path / '.env'} line 2 is not NAME=value"
    assert "FROM_FILE" not in os.environ


def test_an_env_file_that_is_not_utf8_or_not_a_file_is_refused(tmp_path):
    latin1, folder = tmp_path / ".env", tmp_path / "dir.env"
    latin1.write_bytes(b"FROM_FILE=caf\xe9\n")
    folder.mkdir()

    assert refusal(lambda: readers.read_env_file(latin1)) == f"mt5saas: {latin1} is not UTF-8 text"
    assert refusal(lambda: readers.read_env_file(folder)) == f"mt5saas: {folder} is not a file"


# --- the bot's names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "url"),
    [
        ("587", "smtp+tls://bot%40example.com:{password}@smtp.example.com:587"),
        ("465", "smtp+ssl://bot%40example.com:{password}@smtp.example.com:465"),
        ("2525", "smtp+tls://bot%40example.com:{password}@smtp.example.com:2525"),
        ("", "smtp+tls://bot%40example.com:{password}@smtp.example.com:587"),
    ],
)
def test_the_bots_smtp_settings_are_what_email_url_would_give(monkeypatch, port, url):
    monkeypatch.setenv("SMTP_SERVER", "smtp.example.com")
    monkeypatch.setenv("SMTP_PORT", port)
    monkeypatch.setenv("EMAIL_USER", "bot@example.com")
    monkeypatch.setenv("EMAIL_PASS", SECRET)

    settings = readers.email_settings()

    assert settings == environ.Env.email_url_config(url.format(password=quote(SECRET, safe="")))
    assert settings["EMAIL_HOST_PASSWORD"] == SECRET
    assert settings["EMAIL_HOST_USER"] == "bot@example.com"
    assert settings["EMAIL_USE_SSL" if port == "465" else "EMAIL_USE_TLS"] is True
    # The bot sent as the account it signed in with.
    assert readers.default_from_email() == "bot@example.com"


def test_email_url_and_the_same_smtp_settings_together_are_accepted(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp+tls://user:pw@smtp.example.com:587")
    monkeypatch.setenv("SMTP_SERVER", "smtp.example.com")
    monkeypatch.setenv("EMAIL_USER", "user")
    monkeypatch.setenv("EMAIL_PASS", "pw")

    assert readers.email_settings()["EMAIL_HOST"] == "smtp.example.com"


def test_neither_is_the_console_backend():
    assert readers.email_settings()["EMAIL_BACKEND"] == "django.core.mail.backends.console.EmailBackend"
    assert readers.default_from_email() == "mt5saas <noreply@localhost>"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"EMAIL_URL": f"smtp+tls://user:{SECRET}@other.example.com:587", "SMTP_SERVER": "smtp.example.com"},
            "EMAIL_URL and SMTP_SERVER/SMTP_PORT/EMAIL_USER/EMAIL_PASS (its old names) differ: keep EMAIL_URL only",
        ),
        (
            {"EMAIL_URL": "smtp+tls://user:old@smtp.example.com:587", "SMTP_SERVER": "smtp.example.com",
             "EMAIL_USER": "user", "EMAIL_PASS": SECRET},
            "EMAIL_URL and SMTP_SERVER/SMTP_PORT/EMAIL_USER/EMAIL_PASS (its old names) differ: keep EMAIL_URL only",
        ),
        ({"EMAIL_USER": "bot@example.com", "EMAIL_PASS": SECRET},
         "EMAIL_USER/EMAIL_PASS without SMTP_SERVER: set SMTP_SERVER too, or EMAIL_URL instead"),
        ({"EMAIL_URL": "smtp+tls://user:pw@smtp.example.com:587", "SMTP_PORT": "465"},
         "EMAIL_URL is set, and so is SMTP_PORT (its old parts): keep EMAIL_URL only"),
        ({"SMTP_SERVER": "smtp.example.com", "EMAIL_PASS": SECRET},
         "EMAIL_PASS needs EMAIL_USER, the account it signs in as"),
        ({"SMTP_SERVER": "smtp.example.com", "SMTP_PORT": "smtp", "EMAIL_USER": "u", "EMAIL_PASS": SECRET},
         "SMTP_PORT must be a port number, not 'smtp'"),
        ({"SMTP_SERVER": "smtp.example.com", "SMTP_PORT": "70000"}, "SMTP_PORT must be a port number, not '70000'"),
        ({"SMTP_SERVER": "smtp://smtp.example.com", "EMAIL_PASS": SECRET, "EMAIL_USER": "u"},
         "SMTP_SERVER must be a host name like smtp.gmail.com, not 'smtp://smtp.example.com'"),
        ({"EMAIL_URL": f"smtp://user:{quote(SECRET, safe='')}@host:port"},
         "EMAIL_URL is not an email URL like smtp+tls://user:password@smtp.example.com:587"),
        ({"EMAIL_URL": f"mail://user:{SECRET}@host"},
         "EMAIL_URL is not an email URL like smtp+tls://user:password@smtp.example.com:587"),
    ],
)
def test_email_settings_that_cannot_be_meant_are_refused_without_the_password(monkeypatch, variables, message):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    assert refusal(readers.email_settings) == f"mt5saas: {message}"


def test_external_base_url_is_public_url(monkeypatch):
    monkeypatch.setenv("EXTERNAL_BASE_URL", "https://bot.example.com/")
    assert readers.public_url() == "https://bot.example.com"

    # The same address under both names is one setting.
    monkeypatch.setenv("PUBLIC_URL", "https://bot.example.com")
    assert readers.public_url() == "https://bot.example.com"

    monkeypatch.setenv("PUBLIC_URL", "https://mt5saas.example.com")
    assert refusal(readers.public_url) == (
        "mt5saas: PUBLIC_URL and EXTERNAL_BASE_URL (its old name) are set to different values: keep PUBLIC_URL only"
    )


@pytest.mark.parametrize("name", ["PUBLIC_URL", "EXTERNAL_BASE_URL"])
@pytest.mark.parametrize("value", ["bot.example.com", "ftp://bot.example.com", "http://[::1", "https://x:99999", "http://"])
def test_a_public_url_that_is_no_address_is_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    assert refusal(readers.public_url) == (
        f"mt5saas: {name} must be an address like https://mt5saas.example.com, not {value!r}"
    )


def test_instance_root_path_is_mt5_instance_root(monkeypatch):
    monkeypatch.setenv("INSTANCE_ROOT_PATH", "C:\\mt5\\instances")
    assert readers.aliased("MT5_INSTANCE_ROOT", "INSTANCE_ROOT_PATH") == "C:\\mt5\\instances"

    monkeypatch.setenv("MT5_INSTANCE_ROOT", "C:\\mt5\\instances\\")
    assert readers.aliased("MT5_INSTANCE_ROOT", "INSTANCE_ROOT_PATH") == "C:\\mt5\\instances\\"

    monkeypatch.setenv("MT5_INSTANCE_ROOT", "D:\\terminals")
    assert refusal(lambda: readers.aliased("MT5_INSTANCE_ROOT", "INSTANCE_ROOT_PATH")) == (
        "mt5saas: MT5_INSTANCE_ROOT and INSTANCE_ROOT_PATH (its old name) are set to different values: "
        "keep MT5_INSTANCE_ROOT only"
    )


def test_alert_email_is_one_address(monkeypatch):
    monkeypatch.setenv("ALERT_EMAIL", " ops@example.com ")
    assert readers.alert_email() == "ops@example.com"

    monkeypatch.setenv("ALERT_EMAIL", "ops@example.com,boss@example.com")
    assert refusal(readers.alert_email) == (
        "mt5saas: ALERT_EMAIL must be one email address, not 'ops@example.com,boss@example.com'"
    )


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"BASIC_USER": "admin", "BASIC_PASS": SECRET}, "BASIC_USER and BASIC_PASS"),
        ({"BASIC_PASS": SECRET}, "BASIC_PASS"),
        ({"BASIC_USER": "admin"}, "BASIC_USER"),
    ],
)
def test_basic_auth_is_refused_saying_what_replaced_it(monkeypatch, variables, named):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)

    message = refusal(readers.refuse_basic_auth)

    assert message == (
        f"mt5saas: {named} no longer apply: people sign in at /login (Google, or a password when "
        "PASSWORD_LOGIN=1; create an operator with `manage.py createsuperuser`). "
        f"Remove {named} from the environment and .env"
    )
    assert SECRET not in message
