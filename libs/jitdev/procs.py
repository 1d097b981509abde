"""Small helpers to run local servers as child processes (no Docker): free ports, waiting, stopping."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

# Ports handed out by this process: a server started later binds each, and until it does the port is
# free to the kernel, so free_port must not hand it out twice.
_HANDED: set[int] = set()
_LOWEST = 20000  # below the ports most servers on a developer's machine are configured with
#: "<index>/<count>": this process is one of ``count`` started together that each pick ports (``make
#: test``'s workers, set by tests/conftest.py, and the servers they start), and takes its ports from part
#: ``index`` (from 0) of the range only.
PORT_SHARE_ENV = "JIT_PORT_SHARE"


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for the local end of outgoing connections (Linux; elsewhere a common default)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _share(base: int, span: int) -> tuple[int, int]:
    """This process's part (its first port, its length) of the ``span`` ports from ``base``: all of them
    unless ``PORT_SHARE_ENV`` names a part."""
    share = os.environ.get(PORT_SHARE_ENV, "")
    if not share:
        return base, span
    try:
        index, count = (int(n) for n in share.split("/"))
    except ValueError:
        raise ValueError(f"{PORT_SHARE_ENV} must be <index>/<count>, not {share[:40]!r}") from None
    if not 0 <= index < count or span // count < 1:
        raise ValueError(f"{PORT_SHARE_ENV}={share[:40]!r}: no such part of {span} ports")
    part = span // count
    return base + index * part, part


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now and that nothing else will take before our server binds it.

    Asking the kernel for port 0 gives a port from its ephemeral range, the same range every outgoing
    connection on the machine draws its local port from: between our pick and the server's bind, a client
    socket (Keycloak's, a NATS route, a test's) can take it, and the server fails with "Address already in
    use" (seen once in CI, a federation node's evidence service). So the port comes from below that range,
    where only a listener that asks for it by number can be, and never twice from this process. Processes
    that pick ports side by side (``PORT_SHARE_ENV``) each pick from their own part of it: two of them could
    pick one port while neither of their servers had bound it yet (a Keycloak takes seconds to)."""
    low, _ = _ephemeral_range()
    base, span = _share(_LOWEST, max(low, _LOWEST + 1000) - _LOWEST)
    start = random.randrange(span)
    for step in range(span):
        port = base + (start + step) % span
        if port not in _HANDED and _bindable(port):
            _HANDED.add(port)
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:  # the low range is full: the kernel's pick
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    _HANDED.add(port)
    return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def wait_until(
    check: Callable[[], bool],
    timeout: float,
    what: str,
    log_path: Path | None = None,
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.2)
    tail = ""
    if log_path is not None and log_path.exists():
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-40:])
    state = f"exited with {proc.returncode}" if proc is not None and proc.poll() is not None else "timed out"
    raise RuntimeError(f"{what} did not become ready ({state}).\n{tail}")


def spawn(
    args: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group, output to a log file. Logs, databases and whatever else
    the server writes are for its owner only (umask 077): case data and tokens never land world-readable."""
    log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    log = os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
    return subprocess.Popen(
        args,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        cwd=cwd,
        start_new_session=True,
        umask=0o077,
    )


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
    """Stop a process group: the signal first, SIGKILL if it does not exit in time."""
    if proc is None or proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
