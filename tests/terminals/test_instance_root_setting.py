"""MT5_INSTANCE_ROOT (the single-user bot's INSTANCE_ROOT_PATH) on a Windows host: the default
instance root of register_host, and never silently different from the registered one."""

import io

import pytest
from django.core.management import CommandError, call_command

from terminals.models import TerminalHost


def register(*args: str) -> str:
    out = io.StringIO()
    call_command("register_host", "--name", "win-1", "--queue", "win-1", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_register_host_takes_the_instance_root_from_the_environment(settings):
    settings.MT5_INSTANCE_ROOT = "C:\\mt5\\instances"

    assert "instance root C:\\mt5\\instances" in register()
    assert TerminalHost.objects.get(queue_name="win-1").instance_root == "C:\\mt5\\instances"

    # The same folder given both ways is fine.
    register("--instance-root", "C:\\mt5\\instances\\")


@pytest.mark.django_db
def test_register_host_refuses_an_instance_root_the_environment_contradicts(settings):
    settings.MT5_INSTANCE_ROOT = "C:\\mt5\\instances"

    with pytest.raises(CommandError) as refused:
        register("--instance-root", "D:\\other")

    assert str(refused.value) == "--instance-root D:\\other differs from MT5_INSTANCE_ROOT C:\\mt5\\instances: give one"
    assert not TerminalHost.objects.exists()


@pytest.mark.django_db
def test_without_the_variable_register_host_keeps_its_argument_or_none(settings):
    settings.MT5_INSTANCE_ROOT = ""

    assert "instance root none" in register()
    register("--instance-root", "D:\\other")
    assert TerminalHost.objects.get(queue_name="win-1").instance_root == "D:\\other"


@pytest.mark.django_db
def test_host_agent_refuses_to_start_when_the_registered_root_is_another(settings, monkeypatch):
    # The command names its queue in the process environment: put back as it was afterwards, or
    # every later service this test process starts would listen on win-1.
    monkeypatch.setenv("Q_CLUSTER_NAME", "win-1")
    settings.MT5_INSTANCE_ROOT = ""
    register("--instance-root", "D:\\other")
    settings.MT5_INSTANCE_ROOT = "C:\\mt5\\instances"

    with pytest.raises(CommandError) as refused:
        call_command("host_agent", "--queue", "win-1", "--rounds", "1")

    assert str(refused.value) == (
        "MT5_INSTANCE_ROOT is C:\\mt5\\instances but host win-1 is registered with instance root D:\\other: "
        "run register_host again with --instance-root C:\\mt5\\instances"
    )
    assert TerminalHost.objects.get(queue_name="win-1").heartbeat_at is None
