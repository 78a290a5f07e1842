"""Portable MT5 terminals on a host: one directory per account, made from the MT5
installation plus the profile template, run as ``terminal64.exe /portable``.

``<root>/<login>/`` holds the terminal, its data (portable mode keeps it beside the
executable, so ``MQL5/Files`` is the EA bridge's directory) and ``terminal.pid``:
``{"pid": int, "create_time": float}`` of the process we started. The start time makes
a recycled pid (after a reboot, say) never pass for our terminal.

Logging a terminal in: MT5 reads a start-up configuration named on its command line
(``terminal64.exe /portable /config:<file>``, the file relative to the data folder, which
is the instance directory in portable mode). Its ``[Common]`` section names the account:
``Login``, ``Password``, ``Server``; ``KeepPrivate=1`` makes the terminal keep the
credentials (in its own encrypted account store) so that later starts log in without a
file. The file holds the password in clear, so it is written owner-only, lives only while
the terminal logs in, and any start removes one a crashed login left behind.

Process control is psutil and subprocess only, so it runs on Linux too: the tests drive
a stand-in ``terminal64.exe`` script.
"""

import codecs
import json
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import psutil

EXECUTABLE = "terminal64.exe"
PID_FILE = "terminal.pid"
LOGIN = re.compile(r"[0-9]{1,20}")
STARTUP_CONFIG = re.compile(r"login-[0-9a-f]{16}\.ini")
LEFT_BEHIND = re.compile(r"login-[0-9a-f]{16}\.ini(\.tmp)?")
# A line break would end the value and start another key (a [StartUp] Script=, say).
CONTROL = re.compile(r"[\x00-\x1f\x7f]")

if os.name == "nt":
    # A process group of its own: a Ctrl+C or the end of the worker's console does not reach the terminal.
    DETACHED = {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS}
else:
    DETACHED = {"start_new_session": True}

# The Popen of each terminal this process started: dropping one while its terminal runs
# warns, and on POSIX an ended child is a zombie until its Popen reaps it.
_started: dict[int, subprocess.Popen] = {}


class InstanceError(Exception):
    """An instance operation that cannot be done, with the reason in words."""


@dataclass(frozen=True)
class InstanceStatus:
    exists: bool
    running: bool
    pid: int | None


def instance_dir(*, root: Path, login: str) -> Path:
    """`<root>/<login>`; InstanceError for a login that is not digits, so a login never names another path."""
    if not isinstance(login, str) or not LOGIN.fullmatch(login):
        raise InstanceError(f"A login is 1 to 20 digits, not {str(login)[:40]!r}")
    return Path(root) / login


def instance_files_dir(*, root: Path, login: str) -> Path:
    """The instance's MQL5/Files: where the EA bridge driver reads and writes."""
    return instance_dir(root=root, login=login) / "MQL5" / "Files"


def instance_create(*, root: Path, login: str, mt5_install: Path, profile_source: Path | None) -> Path:
    """Copy the MT5 installation, then the profile template over it, into `<root>/<login>/`.

    Idempotent: an existing instance is left as it is (the terminal keeps its settings,
    saved login and history). The copy is built beside it and renamed into place, so a
    copy interrupted half-way is redone, never taken for an instance.
    """
    target = instance_dir(root=root, login=login)
    if (target / EXECUTABLE).is_file():
        return target
    if target.exists():
        raise InstanceError(f"{target} exists but holds no {EXECUTABLE}; remove it first")
    if not (Path(mt5_install) / EXECUTABLE).is_file():
        raise InstanceError(f"No {EXECUTABLE} in the MT5 installation {mt5_install}")
    if profile_source is not None and not Path(profile_source).is_dir():
        raise InstanceError(f"The profile template {profile_source} is not a directory")
    Path(root).mkdir(parents=True, exist_ok=True)
    staging = Path(root) / f".{login}.creating"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(mt5_install, staging)
    if profile_source is not None:
        shutil.copytree(profile_source, staging, dirs_exist_ok=True)
    (staging / "MQL5" / "Files").mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    return target


def instance_status(*, root: Path, login: str) -> InstanceStatus:
    target = instance_dir(root=root, login=login)
    process = _running(target)
    return InstanceStatus(
        exists=(target / EXECUTABLE).is_file(),
        running=process is not None,
        pid=process.pid if process else None,
    )


def instance_config_write(*, root: Path, login: str, password: str, server: str) -> Path:
    """Write a start-up configuration that logs the instance's terminal in to its login on
    `server`, and return its path (inside the instance directory).

    Owner-only from the moment it exists, and atomic (temp name, then rename): the terminal
    never reads half a file. The caller deletes it once the terminal has logged in.
    InstanceError (never naming the password) for a value the file format cannot carry.
    """
    target = instance_dir(root=root, login=login)
    if not target.is_dir():
        raise InstanceError(f"No instance for login {login}: create it first")
    if CONTROL.search(password):
        raise InstanceError("The password holds a line break or another control character; MT5 cannot take it")
    if not server or CONTROL.search(server):
        raise InstanceError("The server name is empty or holds a control character")
    lines = [
        "[Common]",
        f"Login={login}",
        f"Password={password}",
        f"Server={server}",
        "KeepPrivate=1",
        "NewsEnable=0",
        "[Experts]",
        "Enabled=1",  # Algo Trading on: the EA trades
        "AllowLiveTrading=1",
        "AllowDllImport=0",
    ]
    # MT5 writes its own .ini files as UTF-16LE with a BOM; a password may be any Unicode.
    data = codecs.BOM_UTF16_LE + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")
    path = target / f"login-{secrets.token_hex(8)}.ini"
    temporary = path.with_name(path.name + ".tmp")
    try:
        # 0o600 at creation, not chmod afterwards: no moment in which others may read it.
        # (On Windows only the directory's ACL protects it: keep the instance root private.)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        reason = exc.strerror or exc
        raise InstanceError(f"Could not write the start-up configuration of login {login}: {reason}") from None
    return path


def instance_start(*, root: Path, login: str, config: Path | None = None) -> int:
    """Start `terminal64.exe /portable` detached and return its pid; a running instance
    is left running and its pid returned (it does not read `config`: stop it first).

    `config`: a start-up configuration from instance_config_write, passed as
    `/config:<name>`. Any other one left in the instance (a login that crashed half-way)
    is deleted first: it holds a password.
    """
    target = instance_dir(root=root, login=login)
    if (process := _running(target)) is not None:
        return process.pid
    executable = target / EXECUTABLE
    if not executable.is_file():
        raise InstanceError(f"No instance for login {login}: create it first")
    if config is not None and (Path(config).parent != target or not STARTUP_CONFIG.fullmatch(Path(config).name)):
        raise InstanceError(f"{Path(config).name} is not a start-up configuration of login {login}")
    for leftover in target.glob("login-*"):
        if LEFT_BEHIND.fullmatch(leftover.name) and (config is None or leftover.name != Path(config).name):
            leftover.unlink(missing_ok=True)
    arguments = [str(executable), "/portable"]
    if config is not None:
        # Relative to the data folder (the instance directory): no spaces to quote.
        arguments.append(f"/config:{Path(config).name}")
    for pid in [pid for pid, child in _started.items() if child.poll() is not None]:
        del _started[pid]
    try:
        # The path is <root>/<digits>/terminal64.exe: nothing in it comes from a user.
        child = subprocess.Popen(  # noqa: S603
            arguments,
            cwd=target,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            **DETACHED,
        )
    except OSError as exc:
        raise InstanceError(f"Could not start the terminal of login {login}: {exc}") from None
    _started[child.pid] = child
    try:
        started = psutil.Process(child.pid).create_time()
    except psutil.NoSuchProcess:
        raise InstanceError(f"The terminal of login {login} exited as soon as it started") from None
    pid_file = target / PID_FILE
    temporary = pid_file.with_name(PID_FILE + ".tmp")
    temporary.write_text(json.dumps({"pid": child.pid, "create_time": started}), encoding="utf-8")
    os.replace(temporary, pid_file)
    return child.pid


def instance_stop(*, root: Path, login: str, timeout: float = 30.0) -> Literal["not_running", "stopped", "killed"]:
    """Ask the terminal to close, and kill it if it is still running after `timeout` seconds."""
    target = instance_dir(root=root, login=login)
    process = _running(target)
    if process is None:
        outcome = "not_running"
    else:
        try:
            _ask_to_close(process)
            process.wait(timeout)
            outcome = "stopped"
        except psutil.TimeoutExpired:
            process.kill()
            process.wait(10)
            outcome = "killed"
        except psutil.NoSuchProcess:  # it ended on its own meanwhile
            outcome = "stopped"
        if (child := _started.pop(process.pid, None)) is not None:
            child.poll()  # takes note of the exit psutil's wait() collected, so the Popen goes quietly
    (target / PID_FILE).unlink(missing_ok=True)
    return outcome


def instance_restart(*, root: Path, login: str, timeout: float = 30.0) -> int:
    instance_stop(root=root, login=login, timeout=timeout)
    return instance_start(root=root, login=login)


def instance_delete(*, root: Path, login: str, timeout: float = 30.0) -> None:
    """Stop the terminal, then remove its directory; a missing instance is not an error.
    Refuses a directory that is a link to somewhere else: it deletes only inside root."""
    target = instance_dir(root=root, login=login)
    instance_stop(root=root, login=login, timeout=timeout)
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink() or target.resolve() != Path(root).resolve() / login:
        raise InstanceError(f"{target} leads outside the instance root; not deleting it")
    shutil.rmtree(target)


def _running(target: Path) -> psutil.Process | None:
    """The terminal recorded in the pid file, if that very process still runs."""
    try:
        recorded = json.loads((target / PID_FILE).read_text(encoding="utf-8"))
        pid, started = int(recorded["pid"]), float(recorded["create_time"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        process = psutil.Process(pid)
        # Another process that got the same pid later has another start time.
        if abs(process.create_time() - started) > 1 or process.status() == psutil.STATUS_ZOMBIE:
            return None
    except psutil.Error:
        return None
    return process


def _ask_to_close(process: psutil.Process) -> None:
    if os.name == "nt":
        # psutil's terminate() is TerminateProcess on Windows, a kill; taskkill without /F
        # posts WM_CLOSE, so MT5 closes as if its window were closed and saves its state.
        taskkill = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32" / "taskkill.exe"
        subprocess.run([str(taskkill), "/PID", str(process.pid)], capture_output=True, check=False)  # noqa: S603
    else:
        process.terminate()
