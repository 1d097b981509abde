"""`make install`'s last step: what pip cannot install. Checks for a JDK >= 21, installs Debian's
PostgreSQL when its server binaries are missing, Debian's Chromium (the browser the console's tests drive
through Playwright; Playwright's own browser download is never used), systemd-analyze (the tests check the systemd
units with it), helm (built once from its Go module: the tests render the Helm chart with it), and prepares (downloads,
unpacks, builds once) the Keycloak distributions for `make run` and for the tests. Each step is a no-op when already
done."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

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


#: helm renders deploy/helm/jit-node in tests/deploy (`helm template`). Built with `go install` from its Go module
#: into the download cache, once; a different version there is rebuilt.
HELM_VERSION = "v4.3.2"
HELM_MODULE = "helm.sh/helm/v4/cmd/helm"


def go_dir() -> Path:
    """GOPATH (modules, build cache, binaries) under the download cache, outside the checkout."""
    return Path(os.environ.get("JIT_CACHE_DIR", Path.home() / ".cache" / "jit")) / "go"


def helm_binary() -> Path:
    return go_dir() / "bin" / "helm"


def helm_version(helm: Path) -> str | None:
    """The module version the binary was built from (``go version -m``: a helm built by ``go install``
    reports only its minor version itself)."""
    go = _go()
    if go is None or not os.access(helm, os.X_OK):
        return None
    done = subprocess.run([go, "version", "-m", str(helm)], capture_output=True, text=True)
    for line in done.stdout.splitlines():
        fields = line.split()
        if fields[:2] == ["mod", HELM_MODULE.removesuffix("/cmd/helm")]:
            return fields[2]
    return None


def _go() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    return "/usr/local/go/bin/go" if os.access("/usr/local/go/bin/go", os.X_OK) else None


def ensure_helm() -> None:
    helm = helm_binary()
    if helm_version(helm) == HELM_VERSION:
        return
    go = _go()
    if go is None:
        raise RuntimeError(f"helm {HELM_VERSION} is built with Go (go install {HELM_MODULE}): install Go 1.24 or newer")
    print(f"building helm {HELM_VERSION} with go install (once; cached in {go_dir()})...", flush=True)
    gopath = go_dir()
    flags = " ".join(f for f in (os.environ.get("GOFLAGS", ""), "-modcacherw") if f)
    env = {**os.environ, "GOPATH": str(gopath), "GOBIN": str(gopath / "bin"), "GOCACHE": str(gopath / "build")}
    env["GOFLAGS"] = flags
    t0 = time.monotonic()
    subprocess.run([go, "install", f"{HELM_MODULE}@{HELM_VERSION}"], check=True, env=env)
    print(f"helm {HELM_VERSION} built in {time.monotonic() - t0:.0f} s", flush=True)


def ensure_systemd_analyze() -> None:
    if shutil.which("systemd-analyze"):
        return
    print("installing systemd-analyze (Debian package systemd) for the tests of the systemd units...", flush=True)
    _apt_install("systemd")


def main() -> int:
    from jitdev.keycloak import ensure_distribution, find_jdk

    try:
        find_jdk()
    except Exception as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    ensure_postgres()
    ensure_chromium()
    ensure_systemd_analyze()
    try:
        ensure_helm()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for variant in ("run", "test"):
        t0 = time.monotonic()
        ensure_distribution(variant)
        took = time.monotonic() - t0
        if took > 2:
            print(f"Keycloak distribution ({variant}) prepared in {took:.0f} s (cached for next time)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
