"""Start-up rules of the README's Environment section, checked in fresh processes as an operator would meet them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": "production-secret-key-" + "k" * 50,
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "mt5saas.example.com",
}


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEBUG", "HTTPS"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "FIELD_ENCRYPTION_KEYS"])
def test_production_without_a_secret_refuses_to_start_naming_it(missing):
    env = {k: v for k, v in PRODUCTION.items() if k != missing}

    result = manage("check", env=env)

    assert result.returncode != 0
    assert result.stderr.strip() == f"mt5saas: {missing} must be set when DEBUG=0"


def test_debug_flag_must_be_0_or_1():
    result = manage("check", env={**PRODUCTION, "DEBUG": "yes"})

    assert result.returncode != 0
    assert result.stderr.strip() == "mt5saas: DEBUG must be 0 or 1, not 'yes'"


def test_check_deploy_passes_with_production_values():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def local_trial_keys() -> None:
    """The keys a local trial's first start (`make run`, DEBUG=1) generates into var/."""
    assert manage("check", env={"DEBUG": "1"}).returncode == 0
    assert (ROOT / "var" / "secret_key").exists() and (ROOT / "var" / "field_encryption_keys").exists()


def test_manage_py_commands_of_a_local_trial_need_no_debug(tmp_path):
    local_trial_keys()
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    assert manage("migrate", "--noinput", env=env).returncode == 0

    made = manage("createsuperuser", "--noinput", "--username", "operator", "--email", "op@example.test",
                  env={**env, "DJANGO_SUPERUSER_PASSWORD": "a-long-Passw0rd-for-op"})  # fmt: skip
    code = (
        "from django.conf import settings as s; from pathlib import Path as P; print(s.DEBUG, "
        "s.SECRET_KEY == P('var/secret_key').read_text().strip(), "
        "s.FIELD_ENCRYPTION_KEYS == [P('var/field_encryption_keys').read_text().strip()])"
    )
    keys = manage("shell", "--verbosity", "0", "-c", code, env=env)

    assert made.returncode == 0, made.stderr
    assert keys.stdout.split() == ["False", "True", "True"], keys.stderr


@pytest.mark.parametrize("command", [["qcluster"], ["host_agent"], ["check", "--deploy"]])
def test_serving_processes_and_production_never_run_on_a_local_key(command):
    local_trial_keys()
    production = {} if command[0] != "check" else {"DEBUG": "0"}

    result = manage(*command, env=production)

    assert result.returncode != 0
    assert result.stderr.strip() == "mt5saas: SECRET_KEY must be set when DEBUG=0"


def test_the_web_server_never_runs_on_a_local_key():
    local_trial_keys()
    base = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "DEBUG", "HTTPS"}}

    # What daphne loads (`python -m mt5saas.serve … mt5saas.asgi:application`).
    env = {**base, "DJANGO_SETTINGS_MODULE": "mt5saas.settings"}
    result = subprocess.run([sys.executable, "-c", "import mt5saas.asgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)  # fmt: skip

    assert result.returncode != 0
    assert result.stderr.strip().endswith("mt5saas: SECRET_KEY must be set when DEBUG=0")
