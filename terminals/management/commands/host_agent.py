import contextlib
import os
import signal
import threading
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from terminals.agent import HostAgent, host_session_spec
from terminals.drivers import open_driver, owning_sessions
from terminals.models import TerminalHost
from terminals.services import simulated_host
from terminals.sessions.directory import SessionDirectory
from terminals.sessions.registry import SessionRegistry


class Command(BaseCommand):
    help = "Heartbeats of this host and its accounts' terminals; runs beside `qcluster` until stopped."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--queue", default="", help="the host's queue name (default: the simulated host)")
        parser.add_argument("--interval", type=float, default=5.0, help="seconds between heartbeats")
        parser.add_argument("--rounds", type=int, default=None, help="stop after this many rounds")

    def handle(self, *args, queue: str, interval: float, rounds: int | None, **options) -> None:
        if not 0.5 <= interval <= 300:
            raise CommandError("--interval must be between 0.5 and 300 seconds")
        if not queue or queue == settings.Q_CLUSTER["name"]:
            host = simulated_host()
        else:
            host = TerminalHost.objects.filter(queue_name=queue).first()
            if host is None:
                raise CommandError(f"No host with queue {queue!r}: run register_host first")
            # Drivers find this host's instance root by the queue, as the host's qcluster does.
            os.environ["Q_CLUSTER_NAME"] = queue
        configured = settings.MT5_INSTANCE_ROOT.rstrip("\\/")
        # Instances go where the host's row says; an environment saying otherwise is not ignored.
        if host.kind == TerminalHost.Kind.WINDOWS and configured and configured != host.instance_root.rstrip("\\/"):
            raise CommandError(
                f"MT5_INSTANCE_ROOT is {configured} but host {host.name} is registered with instance root "
                f"{host.instance_root or 'none'}: run register_host again with --instance-root {configured}"
            )
        sessions = None
        if host.kind == TerminalHost.Kind.WINDOWS:
            # The one owner of this host's terminal sessions; its workers ask the directory.
            sessions = SessionRegistry(partial(host_session_spec, host))
        agent = HostAgent(host=host, open_driver=open_driver, interval=timedelta(seconds=interval), sessions=sessions)
        stop = threading.Event()
        # SIGTERM (a service manager stopping us) ends the agent between rounds.
        signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
        self.stdout.write(f"host agent for {host.name} (queue {host.queue_name}), every {interval:g} s")
        with contextlib.ExitStack() as stack:
            if sessions is not None:
                # Unwinds in reverse: the directory closes, then every session stops.
                stack.enter_context(owning_sessions(sessions))
                stack.enter_context(SessionDirectory(sessions, host.queue_name))
            try:
                agent.run(rounds=rounds, stop=stop)
            except KeyboardInterrupt:  # Ctrl-C
                stop.set()
            if stop.is_set():
                self.stdout.write("host agent stopped")
