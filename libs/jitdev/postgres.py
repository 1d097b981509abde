"""A throwaway PostgreSQL server on a free port, data in a temporary folder (Debian's postgresql)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
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
    durable: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _own_tmp: Path | None = field(default=None, repr=False)

    def url(self, database: str, driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://{self.user}@127.0.0.1:{self.port}/{database}"

    def start(self) -> PostgresInstance:
        run_as: list[str] = []
        if os.geteuid() == 0:
            # initdb and postgres refuse to run as root: run them as the postgres user, in a folder that
            # user can reach (a root-only temp tree is not traversable for it).
            run_as = ["runuser", "-u", "postgres", "--"]
            if not self._reachable_by_postgres(self.data_dir):
                self.data_dir = Path(tempfile.mkdtemp(prefix="jit-pg-")) / "data"
                self._own_tmp = self.data_dir.parent
                shutil.chown(self._own_tmp, "postgres")
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if run_as:
                shutil.chown(self.data_dir, "postgres")
            res = subprocess.run(
                [
                    *run_as,
                    pg_bin("initdb"),
                    "-D",
                    str(self.data_dir),
                    "-U",
                    self.user,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                capture_output=True,
                text=True,
            )
            if res.returncode != 0:
                raise RuntimeError(f"initdb failed: {res.stderr.strip() or res.stdout.strip()}")
        self.process = spawn(
            [
                *run_as,
                pg_bin("postgres"),
                "-D",
                str(self.data_dir),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(self.data_dir),
                "-c",
                "max_connections=200",
                # Tests need no crash safety; benchmarks ask for durable=True to measure the real thing.
                *([] if self.durable else ["-c", "fsync=off", "-c", "synchronous_commit=off"]),
            ],
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
            [
                pg_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                f'CREATE DATABASE "{name}"',
            ],
            check=True,
            capture_output=True,
        )
        return self.url(name)

    @staticmethod
    def _reachable_by_postgres(path: Path) -> bool:
        probe = path if path.exists() else path.parent
        res = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", str(probe)], capture_output=True)
        return res.returncode == 0

    def stop(self) -> None:
        terminate(self.process)
        self.process = None
        if self._own_tmp is not None:
            shutil.rmtree(self._own_tmp, ignore_errors=True)
