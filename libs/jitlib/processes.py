"""More than one process per service: how a service uses more than one core.

A grpc.aio service runs its calls on one event loop in one process, so one process uses at most one core.
With ``JIT_<NAME>_PROCESSES=N`` (N > 1) the service's entry point becomes a small supervisor: it prepares
the database once (migrations, the KEK file, rows to seal), then starts N copies of the service, each
told its index in ``JIT_PROCESS_INDEX``. Every copy listens on the same port, which the kernel shares
between them (``SO_REUSEPORT``, grpc's ``grpc.so_reuseport`` option): each new connection goes to one of
them. What each copy runs (``jitlib.server.ServiceApp``):

- every copy serves calls, and runs its own outbox relay and audit chainer (a copy's commits hand their
  events to its own relay; two relays scanning the same outbox row publish it twice with one
  ``Nats-Msg-Id`` and the broker drops the copy; two chainers take the chain head's lock before linking);
- every copy runs the service's process workers (``ServiceSpec.process_workers``: messaging's live
  listener and receipt writer, which serve that copy's own streams);
- copy 0 alone runs the background workers (event consumers, scans, key rotation, the retention sweep,
  the federation's command responder), so a scan that sends alerts or notices runs once per node, as
  with one process. A change on another copy that should start such a worker at once (an evidence
  deadline alert due now) rings copy 0's ``Doorbell``; a ring that is lost only leaves the work to the
  worker's next periodic run.

If a copy exits on its own, the supervisor stops the others and exits with a failure, so that what runs
the service (systemd, Kubernetes) restarts the whole set. On SIGTERM or SIGINT it passes SIGTERM on to
every copy (each drains its calls) and exits once they have.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import logging
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from types import FrameType

log = logging.getLogger(__name__)

#: The environment variable that tells a copy of a service its index (0 .. N-1); unset in a sole process.
INDEX_ENV = "JIT_PROCESS_INDEX"

_PR_SET_PDEATHSIG = 1


def process_index(environ: Mapping[str, str] | None = None) -> int | None:
    """This process's index among its service's copies, or None when it is the service's only process."""
    raw = (os.environ if environ is None else environ).get(INDEX_ENV, "")
    if not raw:
        return None
    try:
        index = int(raw)
    except ValueError:
        raise SystemExit(f"{INDEX_ENV}: not a number") from None
    if index < 0:
        raise SystemExit(f"{INDEX_ENV}: must be 0 or more")
    return index


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """A copy gets SIGTERM when its supervisor dies, even by SIGKILL (Linux), so none is left holding
    the port."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def supervise(name: str, command: Sequence[str], count: int, env: Mapping[str, str] | None = None) -> int:
    """Start ``count`` copies of ``command`` (each with ``JIT_PROCESS_INDEX``), wait until they end and
    return the exit status the supervisor should have: 0 when they stopped on a signal it passed on,
    else 1 (a copy ended on its own, and the others were stopped)."""
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def stop_all(signum: int = signal.SIGTERM, _frame: FrameType | None = None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop_all) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        base = dict(os.environ if env is None else env)
        for index in range(count):
            if stopping:
                break
            children.append(
                subprocess.Popen(list(command), env={**base, INDEX_ENV: str(index)}, preexec_fn=_die_with_parent)
            )
        log.info("%s: %d processes started (pids %s)", name, count, ", ".join(str(c.pid) for c in children))
        failed = False
        while any(c.returncode is None for c in children):
            pid, status = os.wait()
            for index, child in enumerate(children):
                if child.pid == pid:
                    child.returncode = os.waitstatus_to_exitcode(status)
                    if not stopping:
                        log.error(
                            "%s: process %d (pid %d) ended with %s; stopping the others",
                            name,
                            index,
                            pid,
                            child.returncode,
                        )
                        failed = True
                        stop_all()
        return 1 if failed else 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for child in children:
            if child.returncode is None:  # only if this function itself failed
                child.kill()
                child.wait()


class Doorbell:
    """Lets any copy of a service wake a worker that runs in copy 0 alone (the alert scanner): a datagram to a
    Unix socket that copy 0 listens on (``listener``), in Linux's abstract namespace (no file to clean up),
    named after the service and its database, which the copies share and no other service has. Best effort
    by design: a ring nobody hears (copy 0 restarting, a platform without abstract sockets) is lost, and the
    worker's periodic run does the same work later; a ring carries nothing but "look now"."""

    def __init__(self, service: str, database_url: str) -> None:
        digest = hashlib.sha256(f"{service}\0{database_url}".encode()).hexdigest()[:24]
        self.address = f"\0jit-{service}-{digest}"
        self._out: socket.socket | None = None

    def ring(self) -> None:
        """Wake copy 0's worker (never blocks, never raises)."""
        try:
            if self._out is None:
                self._out = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._out.setblocking(False)
            self._out.sendto(b"!", self.address)
        except OSError:  # nobody listening, or its queue full: it is awake already or will poll
            pass

    def listener(self, wake: Callable[[], None]) -> DoorbellListener:
        """The worker (``jitlib.server.Worker``) that calls ``wake`` on the event loop at each ring."""
        return DoorbellListener(self.address, wake)

    def close(self) -> None:
        if self._out is not None:
            self._out.close()
            self._out = None


class DoorbellListener:
    """Copy 0's side of a ``Doorbell``: started on the event loop, it calls ``wake`` once for the rings that
    arrived together."""

    def __init__(self, address: str, wake: Callable[[], None]) -> None:
        self._address = address
        self._wake = wake
        self._sock: socket.socket | None = None

    def start(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(self._address)
        except OSError as exc:
            sock.close()
            log.warning("doorbell %r not listening (%s): its worker only polls", self._address[1:], exc)
            return
        sock.setblocking(False)
        asyncio.get_running_loop().add_reader(sock.fileno(), self._rung)
        self._sock = sock

    def _rung(self) -> None:
        assert self._sock is not None
        with contextlib.suppress(OSError):
            while self._sock.recv(64):  # every ring waiting: one wake for them all
                pass
        self._wake()

    async def stop(self) -> None:
        if self._sock is not None:
            asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None
