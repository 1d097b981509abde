"""A service run by its real entry point (``python -m services.<name>``) as several processes sharing one
port (``JIT_<NAME>_PROCESSES``, ``jitlib.processes``), and which of its copies holds which connection
(read from ``/proc``). Used by the integration tests of services run that way."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from jitdev.procs import free_port, wait_until
from jitdev.stack import _grpc_healthy
from tests.harness import suite_kek_file

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class ServiceProcesses:
    name: str
    port: int
    supervisor: subprocess.Popen[bytes]
    log: Path

    def copies(self) -> list[int]:
        """The pids of the supervisor's children (the copies of the service)."""
        path = Path(f"/proc/{self.supervisor.pid}/task/{self.supervisor.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def established(self, pid: int) -> int:
        """How many accepted TCP connections on the service's port the copy ``pid`` holds."""
        return len([peer for local, peer in tcp_connections(pid) if local == self.port])

    def listening(self, pid: int) -> bool:
        """Whether the copy ``pid`` listens on the service's port: until it does, the kernel hands every
        new connection to the copies that already listen."""
        return any(local == self.port for local, _ in tcp_connections(pid, LISTEN))

    def stop(self) -> None:
        if self.supervisor.poll() is None:
            self.supervisor.send_signal(signal.SIGTERM)
            try:
                self.supervisor.wait(30)
            except subprocess.TimeoutExpired:
                self.supervisor.kill()
                self.supervisor.wait()


ESTABLISHED, LISTEN = "01", "0A"  # the states as /proc/net/tcp writes them


def tcp_connections(pid: int, state: str = ESTABLISHED) -> list[tuple[int, int]]:
    """The TCP sockets in ``state`` (established unless told) the process ``pid`` holds: (its local port,
    the peer's port)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for row in Path(table).read_text().splitlines()[1:]:
            cols = row.split()
            if cols[3] == state and cols[9] in inodes:
                found.append((int(cols[1].rsplit(":", 1)[1], 16), int(cols[2].rsplit(":", 1)[1], 16)))
    return found


@contextlib.contextmanager
def service_processes(name: str, count: int, state: Path, settings: Mapping[str, str]) -> Iterator[ServiceProcesses]:
    """``count`` processes of the service ``name`` on a free port, with ``settings`` (and the suite's KEK);
    stopped with SIGTERM at the end."""
    port = free_port()
    prefix = f"JIT_{name.upper()}_"
    env = {
        **os.environ,
        "JIT_STATE_DIR": str(state),
        "JIT_KEK_FILE": str(suite_kek_file()),
        f"{prefix}LISTEN": f"127.0.0.1:{port}",
        f"{prefix}PROCESSES": str(count),
        **settings,
    }
    log = state / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{name}"], env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    running = ServiceProcesses(name, port, proc, log)
    try:
        wait_until(lambda: _grpc_healthy(port), 60, f"{name} service", log, proc)
        wait_until(lambda: len(running.copies()) == count, 30, f"{count} copies", log, proc)
        # Each copy binds the shared port only after its start-up (a copy healthy first answered the
        # check above): connections made before the last one listens all go to the others.
        wait_until(lambda: all(map(running.listening, running.copies())), 60, "every copy listening", log, proc)
        yield running
    finally:
        running.stop()


def connection(port: int) -> grpc.Channel:
    """A channel of its own to ``port`` (a local subchannel pool, else channels to one address share one
    connection): the kernel hands its connection to one of the copies."""
    return grpc.insecure_channel(f"127.0.0.1:{port}", options=[("grpc.use_local_subchannel_pool", 1)])
