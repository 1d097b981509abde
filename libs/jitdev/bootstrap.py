"""`make install`'s last step: what pip cannot install. Checks for a JDK >= 21, installs Debian's
PostgreSQL when its server binaries are missing, Debian's Chromium (the browser the console's tests drive
through Playwright; Playwright's own browser download is never used), and prepares (downloads, unpacks, builds once) the
Keycloak distributions for `make run` and for the tests. Each step is a no-op when already done."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time

#: The browser the console's tests drive (Debian's package).
CHROMIUM = "/usr/bin/chromium"
_apt_updated = False


def _apt_install(*packages: str) -> None:
    global _apt_updated
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        _apt_updated = True
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    )


def ensure_postgres() -> None:
    if shutil.which("initdb") or glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        return
    print("installing PostgreSQL (Debian package postgresql)...", flush=True)
    _apt_install("postgresql")


def ensure_chromium() -> None:
    if os.access(CHROMIUM, os.X_OK):
        return
    print("installing Chromium (Debian packages chromium, chromium-driver) for the browser tests...", flush=True)
    _apt_install("chromium", "chromium-driver")


def main() -> int:
    from jitdev.keycloak import ensure_distribution, find_jdk

    try:
        find_jdk()
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    ensure_postgres()
    ensure_chromium()
    for variant in ("run", "test"):
        t0 = time.monotonic()
        ensure_distribution(variant)
        took = time.monotonic() - t0
        if took > 2:
            print(f"Keycloak distribution ({variant}) prepared in {took:.0f} s (cached for next time)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
