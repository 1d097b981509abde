"""A throwaway PostgreSQL server on a free port, data in a temporary folder (Debian's postgresql)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from jitdev.procs import spawn, terminate, wait_until


def pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not candidates:
        raise RuntimeError(f"{name} not found: install Debian's postgresql package (make install)")
    return candidates[-1]


@dataclass
class PostgresInstance:
    port: int
    data_dir: Path
    log_path: Path
    user: str = "jit"
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresInstance:
        run_as: list[str] = []
        if os.geteuid() == 0:  # initdb and postgres refuse to run as root
            shutil.chown(self.data_dir.parent, "postgres")
            run_as = ["runuser", "-u", "postgres", "--"]
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if run_as:
                shutil.chown(self.data_dir, "postgres")
            subprocess.run(
                [*run_as, pg_bin("initdb"), "-D", str(self.data_dir), "-U", self.user, "--auth=trust",
                 "-E", "UTF8", "--no-sync"],
                check=True, capture_output=True,
            )
        self.log_path.touch()
        if run_as:
            shutil.chown(self.log_path, "postgres")
        self.process = spawn(
            [*run_as, pg_bin("postgres"), "-D", str(self.data_dir), "-p", str(self.port), "-h", "127.0.0.1",
             "-k", str(self.data_dir), "-c", "fsync=off", "-c", "max_connections=200"],
            self.log_path,
        )
        wait_until(self._ready, 60, "postgres", self.log_path, self.process)
        return self

    def _ready(self) -> bool:
        res = subprocess.run(
            [pg_bin("pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user],
            capture_output=True,
        )
        return res.returncode == 0

    def create_database(self, name: str) -> str:
        subprocess.run(
            [pg_bin("psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-c", f'CREATE DATABASE "{name}"'],
            check=True, capture_output=True,
        )
        return self.url(name)

    def stop(self) -> None:
        terminate(self.process)
        self.process = None
