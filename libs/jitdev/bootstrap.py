"""`make install`'s last step: what pip cannot install. Checks for a JDK >= 21, installs Debian's
PostgreSQL when its server binaries are missing, and prepares (downloads, unpacks, builds once) the
Keycloak distributions for `make run` and for the tests. Each step is a no-op when already done."""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import time


def ensure_postgres() -> None:
    if shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return
    print("installing PostgreSQL (Debian package postgresql)...", flush=True)
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "postgresql"], check=True)


def main() -> int:
    from jitdev.keycloak import ensure_distribution, find_jdk

    try:
        find_jdk()
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    ensure_postgres()
    for variant in ("run", "test"):
        t0 = time.monotonic()
        ensure_distribution(variant)
        took = time.monotonic() - t0
        if took > 2:
            print(f"Keycloak distribution ({variant}) prepared in {took:.0f} s (cached for next time)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
