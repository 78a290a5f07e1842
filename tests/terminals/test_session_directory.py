"""The host agent owns its host's terminal sessions; workers reach them through its directory.

Two setups, both with real processes and real loopback connections:
- the directory served from this test process (as the agent would) with a registry of real
  session processes, asked through open_driver as a worker asks it: for what must hold
  between requests (one start per account, a refused login, a wrong key);
- a real `manage.py host_agent` on a migrated SQLite file and this process as its worker: for
  who owns the sessions and what the agent's exit does to them.
The fake MetaTrader5 module reaches the agent's sessions through PYTHONPATH, as the real
one reaches them through site-packages.
"""

import dataclasses
import itertools
import json
import multiprocessing
import os
import signal
import subprocess
import threading
import time
from multiprocessing.connection import Client
from pathlib import Path

import psutil
import pytest
from django.utils import timezone
from django.utils.crypto import get_random_string

from mt5saas.crypto import encrypt
from terminals.agent import HostAgent, host_session_spec
from terminals.drivers import open_driver, owning_sessions
from terminals.drivers.base import AccountInfo, TerminalError
from terminals.models import TerminalHost, TradingAccount
from terminals.paper.driver import SimulatedDriver
from terminals.sessions.client import SessionClient
from terminals.sessions.directory import SessionDirectory, directory_authkey, directory_path, directory_session
from terminals.sessions.protocol import SessionError
from terminals.sessions.registry import SessionRegistry, start_session
from tests import servers
from tests.factories import TradingAccountFactory
from tests.fakes.mt5_env import FAKES
from tests.terminals.test_sessions import PASSWORD, mt5_spec

_logins = itertools.count(7301)


class GatedPaperDriver(SimulatedDriver):
    """A paper terminal whose connect() waits until its gate file exists: a start that takes
    as long as the test wants."""

    def __init__(self, *, gate: str) -> None:
        super().__init__()
        self.gate = Path(gate)

    def connect(self, *, login: int, password: str, server: str) -> AccountInfo:
        while not self.gate.exists():
            time.sleep(0.02)
        return super().connect(login=login, password=password, server=server)


@pytest.fixture
def worker_of(monkeypatch):
    """Makes this process a worker of a host queue: open_driver finds the directory by it."""

    def become(queue: str) -> None:
        monkeypatch.setenv("Q_CLUSTER_NAME", queue)

    return become


def queue_name() -> str:
    return f"test-{get_random_string(8).lower()}"


def as_worker_reads(account_id: int, login: int) -> TradingAccount:
    # What a worker holds when it opens a driver: the row's id, kind, login and server.
    return TradingAccount(pk=account_id, kind=TradingAccount.Kind.MT5, login=str(login), server="SimBroker-Demo")


def running_here(login: int) -> int:
    return [p.name for p in multiprocessing.active_children()].count(f"terminal-session-{login}")


def sessions_of(process: psutil.Process) -> list[psutil.Process]:
    # Spawned children run multiprocessing's spawn_main; the resource tracker does not.
    return [
        child
        for child in process.children()
        if any("spawn_main" in part for part in child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE
    ]


def listener_of(port: int, candidates: list[psutil.Process]) -> psutil.Process:
    (owner,) = [
        process
        for process in candidates
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in process.net_connections("tcp"))
    ]
    return owner


# --- the directory in this process ---------------------------------------------------------------


@pytest.fixture
def directory(children_env, settings, tmp_path, worker_of):
    """Serves a registry of {account id: spec} on a fresh queue; stops everything afterwards."""
    settings.VAR_DIR = tmp_path
    opened: list[tuple[SessionDirectory, SessionRegistry]] = []

    def serve(specs: dict) -> SessionDirectory:
        queue = queue_name()
        registry = SessionRegistry(specs.__getitem__, start_timeout=30)
        served = SessionDirectory(registry, queue)
        served.open()
        opened.append((served, registry))
        worker_of(queue)
        return served

    yield serve
    for served, registry in opened:
        served.close()
        registry.stop_all()


def test_two_concurrent_requests_for_one_account_start_one_session(directory):
    login = next(_logins)
    served = directory({1: mt5_spec(login)})
    barrier, clients, errors = threading.Barrier(3), [], []

    def ask() -> None:
        barrier.wait()
        try:
            clients.append(open_driver(as_worker_reads(1, login)))
        except Exception as error:  # noqa: BLE001 — reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len({client.address for client in clients}) == 1
    assert [p.name for p in multiprocessing.active_children()].count(f"terminal-session-{login}") == 1
    assert [client.account_info().login for client in clients] == [login] * 3
    assert served.registry.account_ids() == {1}


def test_a_slow_start_holds_up_only_its_own_account(directory, tmp_path):
    slow, quick = next(_logins), next(_logins)
    gate = tmp_path / "gate"
    gated = dataclasses.replace(
        mt5_spec(slow), driver=f"{__name__}.GatedPaperDriver", options={"gate": str(gate)}, sys_path=()
    )
    served = directory({1: gated, 2: mt5_spec(quick)})
    slow_answer: list = []
    waiting = threading.Thread(target=lambda: slow_answer.append(open_driver(as_worker_reads(1, slow))))
    waiting.start()
    deadline = time.monotonic() + 30
    while not running_here(slow) and time.monotonic() < deadline:
        time.sleep(0.05)

    # Asked while account 1's start is in hand; it must not wait for that start to end.
    quick_client = directory_session(served.queue, 2, timeout=15)
    still_starting = waiting.is_alive()
    gate.touch()
    waiting.join(timeout=30)

    assert quick_client.account_info().login == quick
    assert still_starting and slow_answer and slow_answer[0].account_info().login == slow


def test_a_refused_login_comes_back_as_the_terminals_error_and_leaves_nothing_running(directory):
    login = next(_logins)
    start_session(mt5_spec(login)).stop()  # the paper account now exists with PASSWORD
    served = directory({1: mt5_spec(login, password="wrong-pass")})

    with pytest.raises(TerminalError) as refused:
        open_driver(as_worker_reads(1, login))

    assert refused.value.code == -6 and "Authorization failed" in refused.value.message
    assert "wrong-pass" not in str(refused.value)
    assert f"terminal-session-{login}" not in [p.name for p in multiprocessing.active_children()]
    assert served.registry.account_ids() == set()


def test_a_caller_with_another_key_is_refused_and_the_directory_serves_on(directory, settings):
    login = next(_logins)
    served = directory({1: mt5_spec(login)})
    address = tuple(json.loads(served.path.read_text())["address"])
    agents_key = settings.SECRET_KEY

    with pytest.raises(multiprocessing.AuthenticationError):
        Client(address, authkey=b"guessed")
    with pytest.raises(multiprocessing.AuthenticationError):
        Client(address, authkey=directory_authkey("another-queue"))
    settings.SECRET_KEY = "another-project-" + "k" * 40
    with pytest.raises(TerminalError) as other_project:
        open_driver(as_worker_reads(1, login))
    started_for_strangers = served.registry.account_ids()
    settings.SECRET_KEY = agents_key
    client = open_driver(as_worker_reads(1, login))

    assert other_project.value.code == -10004 and "SECRET_KEY" in other_project.value.message
    assert started_for_strangers == set()
    assert client.account_info().login == login
    # The published file holds the address only: the key is derived, never stored.
    assert set(json.loads(served.path.read_text())) == {"address", "pid"}
    assert directory_authkey(served.queue) not in served.path.read_bytes()


def test_without_an_agent_open_driver_raises_no_ipc_and_starts_nothing(settings, tmp_path, worker_of):
    settings.VAR_DIR = tmp_path
    worker_of(queue_name())
    before = {child.pid for child in psutil.Process().children()}

    with pytest.raises(TerminalError) as unreachable:
        open_driver(as_worker_reads(1, next(_logins)))

    assert unreachable.value.code == -10004
    assert "host agent is not running" in unreachable.value.message
    assert {child.pid for child in psutil.Process().children()} == before


def test_a_file_left_by_a_dead_agent_reads_as_no_agent(settings, tmp_path, worker_of):
    settings.VAR_DIR = tmp_path
    queue = queue_name()
    worker_of(queue)
    served = SessionDirectory(SessionRegistry({}.__getitem__), queue)
    served.open()
    with pytest.raises(SessionError):  # it answers (no such account): its loop waits in accept() again
        directory_session(queue, 1)
    left_behind = served.path.read_text()
    served.close()
    served.path.write_text(left_behind)  # as after a SIGKILL: nobody listens there any more
    login = next(_logins)

    with pytest.raises(TerminalError) as unreachable:
        open_driver(as_worker_reads(1, login))

    assert unreachable.value.code == -10004 and "host agent is not running" in unreachable.value.message
    assert running_here(login) == 0


@pytest.mark.django_db
def test_the_agent_stops_the_sessions_of_accounts_it_no_longer_serves(children_env, alice):
    host = TerminalHost.objects.create(name="win-9", queue_name="win-9")
    elsewhere = TerminalHost.objects.create(name="win-10", queue_name="win-10")
    kept, stopped, deleted, moved = [
        TradingAccountFactory(owner=alice, host=host, kind="mt5", login=str(next(_logins)), password=encrypt(PASSWORD))
        for _ in range(4)
    ]
    # The agent's own rule for which accounts get a session; the fake module on the path.
    registry = SessionRegistry(lambda pk: dataclasses.replace(host_session_spec(host, pk), sys_path=(FAKES,)))
    agent = HostAgent(host=host, open_driver=open_driver, sessions=registry)

    with owning_sessions(registry):
        agent.tick()
        first = {pk: registry.session(pk) for pk in registry.account_ids()}
        TradingAccount.objects.filter(pk=stopped.pk).update(status=TradingAccount.Status.STOPPED)
        TradingAccount.objects.filter(pk=deleted.pk).update(deleted_at=timezone.now())
        TradingAccount.objects.filter(pk=moved.pk).update(host=elsewhere)
        agent.tick()
        left = registry.account_ids()
        with pytest.raises(TerminalError) as refused:
            registry.session(stopped.pk)
    kept_session = first[kept.pk]

    assert set(first) == {kept.pk, stopped.pk, deleted.pk, moved.pk}
    assert left == {kept.pk}
    assert all(not first[pk].alive() and first[pk].process.exitcode == 0 for pk in (stopped.pk, deleted.pk, moved.pk))
    assert refused.value.code == -7 and "not served by host win-9" in refused.value.message
    # Leaving owning_sessions (the agent's exit) stops the rest.
    assert not kept_session.alive() and kept_session.process.exitcode == 0


# --- a real host agent ---------------------------------------------------------------------------

MAKE_ROWS = """
import json
from django.contrib.auth import get_user_model
from mt5saas.crypto import encrypt
from terminals.models import TerminalHost, TradingAccount
owner, _ = get_user_model().objects.get_or_create(username="agent-test-owner")
host = TerminalHost.objects.create(name=QUEUE, queue_name=QUEUE, kind="windows")
ids = [
    TradingAccount.objects.create(
        owner=owner, host=host, kind="mt5", login=str(login), server="SimBroker-Demo",
        password=encrypt(PASSWORD), status="online",
    ).pk
    for login in LOGINS
]
print(json.dumps(ids))
"""


class Agent:
    def __init__(self, process: subprocess.Popen, queue: str, log: Path) -> None:
        self.process, self.queue, self.log = process, queue, log

    def sessions(self) -> list[psutil.Process]:
        return sessions_of(psutil.Process(self.process.pid))


@pytest.fixture
def agent_env(children_database) -> dict[str, str]:
    # The same SECRET_KEY and encryption keys as this process (both from pytest's env).
    return servers.service_env(DATABASE_URL=children_database, PYTHONPATH=FAKES)


@pytest.fixture
def host_agent(agent_env, tmp_path, worker_of):
    """Registers a Windows host with MT5 accounts in the children's database and runs its agent."""
    started: list[Agent] = []

    def run(logins: list[int]) -> tuple[Agent, list[int]]:
        queue = queue_name()
        script = f"QUEUE, LOGINS, PASSWORD = {queue!r}, {logins!r}, {PASSWORD!r}\n{MAKE_ROWS}"
        rows = servers.manage("shell", "-c", script, env=agent_env)
        assert rows.returncode == 0, rows.stderr
        log = tmp_path / f"agent-{queue}.log"
        process = servers.start(["manage.py", "host_agent", "--queue", queue, "--interval", "300"], agent_env, log)
        agent = Agent(process, queue, log)
        started.append(agent)
        deadline = time.monotonic() + 60
        while not directory_path(queue).exists():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        worker_of(queue)
        return agent, json.loads(rows.stdout.splitlines()[-1])  # after the shell's own banner

    yield run
    for agent in started:
        children = agent.sessions() if agent.process.poll() is None else []
        servers.stop(agent.process)
        psutil.wait_procs(children, timeout=30)
        directory_path(agent.queue).unlink(missing_ok=True)


def test_workers_reach_the_one_session_the_agent_owns(host_agent):
    login = next(_logins)
    agent, (account_id,) = host_agent([login])
    account = as_worker_reads(account_id, login)

    first = open_driver(account)
    first_info = first.account_info()
    first.shutdown()  # a worker done with its order: the terminal stays attached
    second = open_driver(account)
    second_info = second.account_info()
    owned = agent.sessions()

    assert isinstance(first, SessionClient) and first.address == second.address
    assert first_info.login == second_info.login == login
    # The one session of the account listens where both clients went, and it is the agent's child.
    assert len(owned) == 1
    assert listener_of(first.address[1], owned).pid == owned[0].pid
    assert running_here(login) == 0  # this worker started nothing


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_the_agents_exit_ends_its_sessions(host_agent, how):
    logins = [next(_logins), next(_logins)]
    agent, account_ids = host_agent(logins)
    clients = [open_driver(as_worker_reads(pk, login)) for pk, login in zip(account_ids, logins, strict=True)]
    for client in clients:
        client.account_info()
    owned = agent.sessions()
    assert len(owned) == 2

    os.kill(agent.process.pid, how)  # the agent only, not its process group
    agent.process.wait(timeout=60)
    gone, alive = psutil.wait_procs(owned, timeout=60)

    assert alive == [] and len(gone) == 2
    with pytest.raises(TerminalError) as lost:
        clients[0].positions()
    assert lost.value.code in (-10001, -10002, -10004)
    with pytest.raises(TerminalError) as no_agent:
        open_driver(as_worker_reads(account_ids[0], logins[0]))
    assert no_agent.value.code == -10004 and "host agent is not running" in no_agent.value.message
    if how == signal.SIGTERM:
        # Stopped in order: the directory withdrawn, every session stopped, a clean exit.
        assert agent.process.returncode == 0 and not directory_path(agent.queue).exists()
