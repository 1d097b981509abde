"""A node's configuration as the operator's commands (``jit node ...``) read it: the environment the
services would get, optionally from an env file (the one ``jit node init`` writes), and what it implies
on disk: each service's database, the blob folders, the key files.

The services read the same variables themselves (``jitlib.config`` and each service's settings); the
command line may not import a service, so the few per-service defaults are repeated here, next to where
the services define them (``services/<name>/app.py``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

#: The services of a node that hold state, in the order they are backed up and restored.
SERVICES = ("tasks", "evidence", "preservation", "messaging", "victims")
#: Services that keep blob files beside their database (the default folder under the state dir).
BLOB_SERVICES = {"evidence": "evidence-blobs", "messaging": "messaging-blobs"}


def read_env(env_file: Path | None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The node's settings: the environment, with the env file's values on top when one is given."""
    env = dict(os.environ if base is None else base)
    if env_file is not None:
        env.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    return env


@dataclass(frozen=True)
class ServiceState:
    name: str
    database_url: str
    blob_dir: Path | None
    kek_file: Path | None

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        return Path(self.database_url.split(":///", 1)[1])


@dataclass(frozen=True)
class NodeState:
    """Where a node keeps what a backup must hold."""

    state_dir: Path
    jurisdiction: str
    peers: str
    nats_url: str
    services: tuple[ServiceState, ...]

    @classmethod
    def of(cls, env: Mapping[str, str]) -> NodeState:
        state_dir = Path(env.get("JIT_STATE_DIR") or "var").absolute()
        services = []
        for name in SERVICES:
            prefix = f"JIT_{name.upper()}_"
            url = env.get(prefix + "DATABASE_URL") or f"sqlite:///{state_dir / (name + '.db')}"
            blob_dir: Path | None = None
            if name in BLOB_SERVICES:
                blob_dir = Path(env.get(prefix + "BLOB_DIR") or state_dir / BLOB_SERVICES[name]).absolute()
            own = env.get(prefix + "KEK_FILE")
            # A service's own KEK file, or the per-service file of an older local node (kept as a previous
            # KEK by the services until what it wrapped is rewrapped under the node's).
            kek_file = Path(own).absolute() if own else state_dir / f"{name}-kek.b64"
            services.append(ServiceState(name, url, blob_dir, kek_file))
        return cls(
            state_dir=state_dir,
            jurisdiction=(env.get("JIT_NODE_JURISDICTION") or "").strip().upper(),
            peers=(env.get("JIT_FEDERATION_PEERS") or "").strip().upper(),
            nats_url=env.get("JIT_NATS_URL") or "nats://127.0.0.1:4222",
            services=tuple(services),
            kek_file=Path(env.get("JIT_KEK_FILE") or state_dir / "kek.b64").absolute(),
        )

    kek_file: Path | None = None

    def key_files(self) -> dict[str, Path]:
        """Each distinct key-encryption key file of the node, by a stable name: the node's (``kek``) and
        any service's own (``<service>-kek``)."""
        out: dict[str, Path] = {}
        if self.kek_file is not None:
            out["kek"] = self.kek_file
        for svc in self.services:
            if svc.kek_file is not None and svc.kek_file not in out.values():
                out[f"{svc.name}-kek"] = svc.kek_file
        return out
