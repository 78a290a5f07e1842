"""Portable terminal instances, driven on Linux with a stand-in terminal64.exe script."""

import json
import os
import sys
import time
from pathlib import Path

import psutil
import pytest

from terminals.instances import (
    InstanceError,
    InstanceStatus,
    instance_config_write,
    instance_create,
    instance_delete,
    instance_files_dir,
    instance_restart,
    instance_start,
    instance_status,
    instance_stop,
)

pytestmark = pytest.mark.skipif(os.name == "nt", reason="the stand-in terminal is a POSIX script")

STOPPED = InstanceStatus(exists=True, running=False, pid=None)

# Writes markers into its working directory; on SIGTERM it closes like MT5 or ignores it.
STAND_IN = """#!{python}
import signal, sys, time
from pathlib import Path

def close(signum, frame):
    Path("stopped.marker").write_text("closed")
    sys.exit(0)

signal.signal(signal.SIGTERM, {on_sigterm})
Path("started.marker").write_text(" ".join(sys.argv[1:]))
while True:
    time.sleep(0.05)
"""


def mt5_install(directory: Path, *, on_sigterm: str = "close") -> Path:
    directory.mkdir(parents=True)
    executable = directory / "terminal64.exe"
    executable.write_text(STAND_IN.format(python=sys.executable, on_sigterm=on_sigterm))
    executable.chmod(0o755)
    (directory / "terminal.ini").write_text("from the installation")
    (directory / "MQL5" / "Experts").mkdir(parents=True)
    (directory / "MQL5" / "Experts" / "Examples.ex5").write_text("stock expert")
    return directory


@pytest.fixture
def root(tmp_path):
    root = tmp_path / "instances"
    yield root
    for pid_file in root.glob("*/terminal.pid"):  # no stand-in outlives its test
        instance_stop(root=root, login=pid_file.parent.name, timeout=0)


@pytest.fixture
def install(tmp_path) -> Path:
    return mt5_install(tmp_path / "MetaTrader 5")


@pytest.fixture
def profile(tmp_path) -> Path:
    profile = tmp_path / "profile"
    (profile / "MQL5" / "Experts").mkdir(parents=True)
    (profile / "MQL5" / "Experts" / "AllInOne.ex5").write_text("our EA")
    (profile / "terminal.ini").write_text("from the profile")
    return profile


def wait_for(path: Path) -> str:
    deadline = time.monotonic() + 10
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.02)
    return path.read_text()


def test_create_copies_the_installation_then_the_profile_over_it(root, install, profile):
    created = instance_create(root=root, login="1123456", mt5_install=install, profile_source=profile)

    assert created == root / "1123456"
    assert (created / "terminal.ini").read_text() == "from the profile"
    assert (created / "MQL5" / "Experts" / "Examples.ex5").read_text() == "stock expert"
    assert (created / "MQL5" / "Experts" / "AllInOne.ex5").read_text() == "our EA"
    assert instance_files_dir(root=root, login="1123456").is_dir()
    assert os.access(created / "terminal64.exe", os.X_OK)
    assert sorted(p.name for p in root.iterdir()) == ["1123456"]
    assert instance_status(root=root, login="1123456") == STOPPED


def test_create_again_keeps_the_instance_as_the_terminal_left_it(root, install, profile):
    (root / ".1123456.creating" / "half").mkdir(parents=True)  # an interrupted earlier copy
    instance_create(root=root, login="1123456", mt5_install=install, profile_source=None)
    (root / "1123456" / "terminal.ini").write_text("changed by the terminal")

    again = instance_create(root=root, login="1123456", mt5_install=install, profile_source=profile)

    assert (again / "terminal.ini").read_text() == "changed by the terminal"
    assert not (again / "MQL5" / "Experts" / "AllInOne.ex5").exists()
    assert sorted(p.name for p in root.iterdir()) == ["1123456"]


def test_create_refuses_a_missing_installation_or_a_foreign_directory(root, tmp_path, install):
    (root / "555").mkdir(parents=True)

    with pytest.raises(InstanceError, match=r"No terminal64\.exe"):
        instance_create(root=root, login="1123456", mt5_install=tmp_path / "nowhere", profile_source=None)
    with pytest.raises(InstanceError, match=r"holds no terminal64\.exe"):
        instance_create(root=root, login="555", mt5_install=install, profile_source=None)

    assert sorted(p.name for p in root.iterdir()) == ["555"]


# Fullwidth digits pass str.isdigit() but are not a login.
@pytest.mark.parametrize("login", ["../outside", "123/../../x", "", "12a", "/tmp", "\uff11\uff12\uff13", "1" * 21, 123])
def test_a_login_that_is_not_digits_names_no_path(root, tmp_path, install, login):
    calls = [
        lambda: instance_create(root=root, login=login, mt5_install=install, profile_source=None),
        lambda: instance_start(root=root, login=login),
        lambda: instance_stop(root=root, login=login),
        lambda: instance_delete(root=root, login=login),
        lambda: instance_status(root=root, login=login),
    ]
    for call in calls:
        with pytest.raises(InstanceError, match="1 to 20 digits"):
            call()

    assert not root.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["MetaTrader 5"]


def test_start_runs_the_terminal_portable_and_stop_closes_it(root, install):
    instance = instance_create(root=root, login="1123456", mt5_install=install, profile_source=None)

    pid = instance_start(root=root, login="1123456")
    arguments = wait_for(instance / "started.marker")
    directory = psutil.Process(pid).cwd()
    running = instance_status(root=root, login="1123456")
    same = instance_start(root=root, login="1123456")
    outcome = instance_stop(root=root, login="1123456", timeout=10)

    assert arguments == "/portable" and directory == str(instance)
    assert running == InstanceStatus(exists=True, running=True, pid=pid) and same == pid
    assert outcome == "stopped" and (instance / "stopped.marker").read_text() == "closed"
    assert not psutil.pid_exists(pid)
    assert instance_status(root=root, login="1123456") == STOPPED
    assert not (instance / "terminal.pid").exists()
    assert instance_stop(root=root, login="1123456") == "not_running"


def test_stop_kills_a_terminal_that_does_not_close(root, tmp_path):
    stubborn = mt5_install(tmp_path / "stubborn", on_sigterm="signal.SIG_IGN")
    instance = instance_create(root=root, login="777", mt5_install=stubborn, profile_source=None)
    pid = instance_start(root=root, login="777")
    wait_for(instance / "started.marker")

    outcome = instance_stop(root=root, login="777", timeout=0.5)

    assert outcome == "killed" and not (instance / "stopped.marker").exists()
    assert not psutil.pid_exists(pid)
    assert instance_status(root=root, login="777").running is False


def test_restart_replaces_the_process(root, install):
    instance = instance_create(root=root, login="1123456", mt5_install=install, profile_source=None)
    first = instance_start(root=root, login="1123456")
    wait_for(instance / "started.marker")

    second = instance_restart(root=root, login="1123456", timeout=10)

    assert second != first and not psutil.pid_exists(first)
    assert instance_status(root=root, login="1123456") == InstanceStatus(exists=True, running=True, pid=second)


def test_a_recorded_pid_now_used_by_another_process_is_not_the_terminal(root, install):
    instance = instance_create(root=root, login="1123456", mt5_install=install, profile_source=None)
    # This test's own process is alive, but it started long before the recorded time.
    (instance / "terminal.pid").write_text(json.dumps({"pid": os.getpid(), "create_time": time.time() + 3600}))

    assert instance_status(root=root, login="1123456") == STOPPED
    assert instance_stop(root=root, login="1123456") == "not_running"
    assert psutil.pid_exists(os.getpid())


def test_start_needs_a_created_instance_that_can_run(root, install):
    with pytest.raises(InstanceError, match="create it first"):
        instance_start(root=root, login="1123456")
    instance = instance_create(root=root, login="1123456", mt5_install=install, profile_source=None)
    (instance / "terminal64.exe").chmod(0o644)

    with pytest.raises(InstanceError, match="Could not start the terminal of login 1123456"):
        instance_start(root=root, login="1123456")

    assert instance_status(root=root, login="1123456") == STOPPED


def test_delete_stops_the_terminal_and_removes_only_its_directory(root, install):
    doomed = instance_create(root=root, login="111", mt5_install=install, profile_source=None)
    kept = instance_create(root=root, login="222", mt5_install=install, profile_source=None)
    pid = instance_start(root=root, login="111")
    wait_for(doomed / "started.marker")

    instance_delete(root=root, login="111", timeout=10)
    instance_delete(root=root, login="111")  # already gone: nothing to do

    assert not doomed.exists() and not psutil.pid_exists(pid)
    assert (kept / "terminal64.exe").exists() and sorted(p.name for p in root.iterdir()) == ["222"]


def test_delete_refuses_a_login_directory_that_links_elsewhere(root, tmp_path):
    elsewhere = tmp_path / "precious"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("mine")
    root.mkdir()
    (root / "333").symlink_to(elsewhere, target_is_directory=True)

    with pytest.raises(InstanceError, match="outside the instance root"):
        instance_delete(root=root, login="333")

    assert (elsewhere / "keep.txt").read_text() == "mine"


def test_startup_config_is_written_owner_only_and_atomically(root, install, monkeypatch):
    instance = instance_create(root=root, login="1123456", mt5_install=install, profile_source=None)
    renames, real_replace = [], os.replace

    def watching_replace(src, dst):
        src, dst = Path(src), Path(dst)
        renames.append((src.name, dst.name, dst.exists(), oct(src.stat().st_mode & 0o777)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", watching_replace)

    config = instance_config_write(root=root, login="1123456", password="Pässword;1", server="Broker-Live")

    [(temporary, final, existed, mode)] = renames
    text = config.read_bytes().decode("utf-16")
    assert config.parent == instance and final == config.name and temporary == final + ".tmp" and not existed
    assert mode == oct(0o600) and config.stat().st_mode & 0o777 == 0o600
    assert text.startswith("[Common]\r\nLogin=1123456\r\nPassword=Pässword;1\r\nServer=Broker-Live\r\n")
    assert "KeepPrivate=1" in text


@pytest.mark.parametrize(("password", "server"), [("a\nb", "Broker-Live"), ("a\rb", "Broker-Live"), ("pw", "B\n[X]")])
def test_startup_config_refuses_values_that_would_add_lines(root, install, password, server):
    instance = instance_create(root=root, login="1123456", mt5_install=install, profile_source=None)

    with pytest.raises(InstanceError) as refused:
        instance_config_write(root=root, login="1123456", password=password, server=server)

    leaked = password in str(refused.value)
    assert not leaked and "control character" in str(refused.value)
    assert sorted(p.name for p in instance.glob("login-*")) == []


def test_start_with_a_startup_config_names_it_on_the_command_line(root, install):
    instance = instance_create(root=root, login="1123456", mt5_install=install, profile_source=None)
    config = instance_config_write(root=root, login="1123456", password="pw", server="Broker-Live")

    instance_start(root=root, login="1123456", config=config)
    arguments = wait_for(instance / "started.marker")
    instance_stop(root=root, login="1123456", timeout=10)

    assert arguments == f"/portable /config:{config.name}"
    with pytest.raises(InstanceError, match="is not a start-up configuration"):
        instance_start(root=root, login="1123456", config=root / "elsewhere.ini")
    assert instance_status(root=root, login="1123456") == STOPPED
