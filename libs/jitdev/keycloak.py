"""Local, no-Docker Keycloak runner used by ``make run`` and by the test suite.

What it does
------------
* :func:`find_jdk` picks a JDK >= 21 from ``/usr/lib/jvm/*`` (Keycloak 26 deprecates
  Java 17, which is the machine default) by reading each JDK's ``release`` file.
* :func:`ensure_distribution` fetches the Keycloak server zip with Maven when it is not
  cached yet, unpacks it atomically (temp dir + rename) to
  ``CACHE_DIR/keycloak-<version>-<variant>`` and runs ``kc.sh build`` once.  A marker
  file holding a hash of the build options makes later calls return immediately.
* :func:`start_keycloak` / :func:`running_keycloak` start ``kc.sh start --optimized``
  on 127.0.0.1 with the realm ``deploy/keycloak/realm-jit.json`` imported, wait until it
  is really usable and stop it again (whole process group, no stray ``java``).

Variants
--------
``"run"``
    ``--db=dev-file``: persistent H2 file under the distribution's ``data/h2``.  The realm
    file is copied to the distribution's ``data/import``; Keycloak imports it only when
    the realm does not exist yet, so when ``realm-jit.json`` changed since the last import
    (a hash is kept beside the database) the database is started afresh and the realm
    imported again.
``"test"``
    ``--db=dev-mem``: in-memory H2, every start is a fresh realm.  Each instance gets its
    own throw-away Keycloak home (symlinks to the shared ``bin``/``lib``/``conf``/
    ``providers``/``themes`` plus a private ``data`` directory holding ``data/import``
    and the transaction logs) so parallel test runs never clash.

Both variants use ``--cache=local`` (no clustering, no JGroups port) and bind only to
127.0.0.1.  The bootstrap admin credentials (``admin``/``admin`` by default) and the
demo users' password ``demo`` are DEMO-ONLY values for local runs.

The realm file also contains one *non-demo* user, ``nl-realuser``, which exists only to
prove that the password grant of ``jit-cli`` refuses accounts without the realm role
``demo_user``.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import hashlib
import html as _html
import json
import os
import re
import shutil
import signal
import ssl
import subprocess
import tempfile
import threading
import time
import zipfile
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from jitdev.procs import free_port
from jitlib.pki import TlsFiles

__all__ = [
    "CACHE_DIR",
    "DEFAULT_REALM_FILE",
    "KEYCLOAK_VERSION",
    "KeycloakError",
    "KeycloakInstance",
    "KeycloakTokenError",
    "build_options",
    "ensure_distribution",
    "find_jdk",
    "free_port",
    "running_keycloak",
    "start_keycloak",
]

CACHE_DIR = Path(os.environ.get("JIT_CACHE_DIR", Path.home() / ".cache" / "jit"))
KEYCLOAK_VERSION = "26.7.3"

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REALM_FILE = REPO_ROOT / "deploy" / "keycloak" / "realm-jit.json"

_MAVEN_ARTIFACT = f"org.keycloak:keycloak-quarkus-dist:{KEYCLOAK_VERSION}:zip"
_ZIP_NAME = f"keycloak-quarkus-dist-{KEYCLOAK_VERSION}.zip"
_JVM_ROOT = Path("/usr/lib/jvm")
_BUILD_MARKER = ".jit-build-options.sha256"
_STARTUP_TIMEOUT_S = 180.0
_STOP_TIMEOUT_S = 20.0

# Build-time options per variant ("kc.sh build").  dev-mem exists in 26.x, so the test
# variant is purely in-memory; device-flow is enabled by default, so no --features.
_VARIANT_DB = {"run": "dev-file", "test": "dev-mem"}

# Parts of a Keycloak home that a per-instance (test) home links to instead of copying.
_SHARED_HOME_ENTRIES = ("bin", "conf", "lib", "providers", "themes", "version.txt")


class KeycloakError(RuntimeError):
    """Keycloak could not be prepared, started or stopped."""


class KeycloakTokenError(KeycloakError):
    """The token endpoint refused a request; carries Keycloak's own error text."""

    def __init__(self, message: str, status_code: int, error: str | None, error_description: str | None):
        super().__init__(message)
        self.status_code = status_code
        self.error = error
        self.error_description = error_description


# --------------------------------------------------------------------------- JDK


def _java_major(version: str) -> int | None:
    """Major version of a ``JAVA_VERSION`` string ("1.8.0_392" -> 8, "25.0.3" -> 25)."""
    m = re.match(r"^(\d+)(?:\.(\d+))?", version)
    if not m:
        return None
    major = int(m.group(1))
    if major == 1 and m.group(2):
        major = int(m.group(2))
    return major


def _read_java_version(jdk: Path) -> str | None:
    try:
        text = (jdk / "release").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    m = re.search(r'^JAVA_VERSION="?([^"\n]+)"?', text, re.MULTILINE)
    return m.group(1).strip() if m else None


def find_jdk(min_version: int = 21, search_root: Path = _JVM_ROOT) -> Path:
    """Return the JAVA_HOME of the newest JDK >= ``min_version`` under ``/usr/lib/jvm``.

    Each candidate's ``release`` file is read for ``JAVA_VERSION`` and the directory must
    contain ``bin/java``.  Raises :class:`KeycloakError` with the versions found if no
    suitable JDK is installed.
    """
    found: list[tuple[tuple[int, ...], Path, str]] = []
    seen: set[Path] = set()
    try:
        candidates = sorted(search_root.iterdir())
    except OSError:
        candidates = []
    for cand in candidates:
        real = cand.resolve()
        if real in seen or not (real / "bin" / "java").exists():
            continue
        seen.add(real)
        version = _read_java_version(real)
        major = _java_major(version) if version else None
        if version is None or major is None:
            continue
        nums = [int(x) for x in re.findall(r"\d+", version)]
        found.append(((major, *nums[1:]), cand, version))
    good = [f for f in found if f[0][0] >= min_version]
    if not good:
        have = ", ".join(f"{p.name} ({v})" for _, p, v in found) or "none"
        raise KeycloakError(
            f"Keycloak {KEYCLOAK_VERSION} needs a JDK >= {min_version}, but {search_root} has: {have}. "
            f"Install one (e.g. apt-get install openjdk-21-jdk-headless) and retry."
        )
    good.sort(key=lambda f: f[0])
    return good[-1][1]


# ------------------------------------------------------------------ distribution


def build_options(variant: str) -> list[str]:
    """The ``kc.sh build`` options for a variant (``"run"`` or ``"test"``)."""
    if variant not in _VARIANT_DB:
        raise KeycloakError(f"unknown Keycloak variant {variant!r} (expected one of {sorted(_VARIANT_DB)})")
    return [f"--db={_VARIANT_DB[variant]}", "--health-enabled=true"]


def _options_hash(options: list[str], java_home: Path) -> str:
    payload = json.dumps({"version": KEYCLOAK_VERSION, "options": options, "java": str(java_home)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _dist_dir(variant: str) -> Path:
    return CACHE_DIR / f"keycloak-{KEYCLOAK_VERSION}-{variant}"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Exclusive inter-process lock (parallel pytest workers share CACHE_DIR)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _ensure_zip() -> Path:
    dl_dir = CACHE_DIR / "dl"
    zip_path = dl_dir / _ZIP_NAME
    if zip_path.is_file():
        return zip_path
    with _file_lock(CACHE_DIR / ".download.lock"):
        if zip_path.is_file():
            return zip_path
        mvn = shutil.which("mvn")
        if mvn is None:
            raise KeycloakError(f"{zip_path} is missing and Maven ('mvn') is not installed to fetch it")
        dl_dir.mkdir(parents=True, exist_ok=True)
        cmd = [mvn, "-q", "dependency:copy", f"-Dartifact={_MAVEN_ARTIFACT}", f"-DoutputDirectory={dl_dir}"]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not zip_path.is_file():
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
            raise KeycloakError(f"fetching {_MAVEN_ARTIFACT} with Maven failed (exit {proc.returncode}):\n{tail}")
    return zip_path


def _unpack(zip_path: Path, target: Path) -> None:
    """Unpack the distribution into ``target`` atomically (temp dir, then rename)."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.unpack-", dir=target.parent))
    try:
        with zipfile.ZipFile(zip_path) as zf:
            for info in zf.infolist():
                extracted = Path(zf.extract(info, tmp))
                mode = (info.external_attr >> 16) & 0o777
                if mode and not info.is_dir():
                    extracted.chmod(mode)
        tops = [p for p in tmp.iterdir()]
        if len(tops) != 1 or not (tops[0] / "bin" / "kc.sh").is_file():
            raise KeycloakError(f"{zip_path} does not look like a Keycloak distribution")
        kc_sh = tops[0] / "bin" / "kc.sh"
        kc_sh.chmod(kc_sh.stat().st_mode | 0o755)
        tops[0].rename(target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _jdk_env(java_home: Path) -> dict[str, str]:
    """Environment for kc.sh: our JDK first, no inherited KC_* / JAVA_OPTS surprises."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KC_", "KEYCLOAK_", "QUARKUS_"))}
    for k in ("JAVA_OPTS", "JAVA_OPTS_APPEND", "JAVA_ADD_OPENS", "JAVA", "DEBUG", "PRINT_ENV"):
        env.pop(k, None)
    env["JAVA_HOME"] = str(java_home)
    env["PATH"] = f"{java_home / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def ensure_distribution(variant: str) -> Path:
    """Return a ready, pre-built Keycloak home for ``variant`` (``"run"`` or ``"test"``).

    Downloads the zip with Maven if it is not in ``CACHE_DIR/dl``, unpacks it to
    ``CACHE_DIR/keycloak-<version>-<variant>`` (atomically) and runs ``kc.sh build`` with
    :func:`build_options` once; a marker file with the hash of the build options (and
    JDK) makes later calls return at once.  Safe to call from parallel processes.
    """
    options = build_options(variant)
    java_home = find_jdk()
    target = _dist_dir(variant)
    marker = target / _BUILD_MARKER
    wanted = _options_hash(options, java_home)
    if marker.is_file() and marker.read_text().strip() == wanted:
        return target
    with _file_lock(CACHE_DIR / f".keycloak-{KEYCLOAK_VERSION}-{variant}.lock"):
        if marker.is_file() and marker.read_text().strip() == wanted:
            return target
        for stale in target.parent.glob(f".{target.name}.unpack-*"):  # from an interrupted unpack
            shutil.rmtree(stale, ignore_errors=True)
        if not (target / "bin" / "kc.sh").is_file():
            if target.exists():  # leftover of something that is not a distribution
                shutil.rmtree(target)
            _unpack(_ensure_zip(), target)
        marker.unlink(missing_ok=True)
        proc = subprocess.run(
            [str(target / "bin" / "kc.sh"), "build", *options],
            cwd=target,
            env=_jdk_env(java_home),
            capture_output=True,
            text=True,
        )
        (target / "build.log").write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
            raise KeycloakError(f"'kc.sh build {' '.join(options)}' failed (exit {proc.returncode}):\n{tail}")
        marker.write_text(wanted + "\n")
    return target


# ----------------------------------------------------------------------- running


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines))
    except OSError as exc:
        return f"(no log at {path}: {exc})"


@dataclass(eq=False)  # identity semantics: instances are tracked in a set for atexit cleanup
class KeycloakInstance:
    """A Keycloak server started by :func:`start_keycloak` (or an external one)."""

    base_url: str
    realm: str = "jit"
    admin_user: str = "admin"
    admin_password: str = "admin"  # noqa: S105 - DEMO-ONLY bootstrap admin of local runs
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    management_url: str | None = None
    home: Path | None = None
    #: The HTTPS base URL when the server also (or only) serves HTTPS, and the CA that issued its
    #: certificate (what a client trusts).
    https_url: str | None = None
    ca_file: Path | None = None
    _scratch: Path | None = field(default=None, repr=False)

    @property
    def verify(self) -> ssl.SSLContext | bool:
        """What an HTTPS client of this server checks its certificate against (httpx ``verify``)."""
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file is not None else True

    @property
    def https_issuer(self) -> str:
        """The realm's issuer as seen over HTTPS (Keycloak names the issuer after the URL it is asked on)."""
        if self.https_url is None:
            raise KeycloakError("this Keycloak serves no HTTPS")
        return f"{self.https_url}/realms/{self.realm}"

    @property
    def issuer(self) -> str:
        """Token issuer (``iss``) of the realm, e.g. ``http://127.0.0.1:8080/realms/jit``."""
        return f"{self.base_url}/realms/{self.realm}"

    @property
    def jwks_url(self) -> str:
        """The realm's JWKS (signing keys) endpoint."""
        return f"{self.issuer}/protocol/openid-connect/certs"

    @property
    def token_url(self) -> str:
        """The realm's OAuth 2.0 token endpoint."""
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def device_auth_url(self) -> str:
        """The realm's OAuth 2.0 device authorization endpoint."""
        return f"{self.issuer}/protocol/openid-connect/auth/device"

    def password_token(
        self,
        username: str,
        password: str = "demo",  # noqa: S107 - the DEMO-ONLY password of the demo users
        client_id: str = "jit-cli",
        *,
        https: bool = False,
    ) -> dict[str, Any]:
        """Run the password grant and return the token response JSON.

        Raises :class:`KeycloakTokenError` (with Keycloak's ``error`` /
        ``error_description``) when Keycloak refuses.  Only demo accounts may use this
        grant on ``jit-cli``. ``https``: over HTTPS (the token's issuer is then the HTTPS one).
        """
        data = {
            "grant_type": "password",
            "client_id": client_id,
            "username": username,
            "password": password,
            "scope": "openid",
        }
        url = f"{self.https_issuer}/protocol/openid-connect/token" if https else self.token_url
        resp = httpx.post(url, data=data, timeout=30.0, verify=self.verify)
        if resp.status_code == 200:
            return resp.json()
        error, description = _token_error(resp)
        text = f"{error}: {description}" if description else str(error)
        raise KeycloakTokenError(
            f"password grant for {username!r} (client {client_id!r}) refused: HTTP {resp.status_code} {text}",
            resp.status_code,
            error,
            description,
        )

    def stop(self) -> None:
        """Stop the server: SIGTERM to its process group, wait up to 20 s, then SIGKILL."""
        proc = self.process
        if proc is not None:
            _stop_process_group(proc)
            _LIVE.discard(self)
            self.process = None
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None


def _token_error(resp: httpx.Response) -> tuple[str, str | None]:
    """``(error, error_description)`` of a refused token request.

    Keycloak answers with OAuth JSON (``invalid_grant`` ...), except when the "Deny
    access" authenticator of the demo-only direct-grant flow fires: then it renders its
    HTML error page (HTTP 401), whose message is extracted here as ``access_denied``.
    """
    try:
        body = resp.json()
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"]), body.get("error_description")
    except ValueError:
        pass
    page = resp.text
    m = re.search(r'id="kc-error-message"[^>]*>(.*?)</div>', page, re.DOTALL)
    fragment = m.group(1) if m else ""
    message = _html.unescape(" ".join(re.sub(r"<[^>]+>", " ", fragment).split()))
    if not message:
        message = _html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))[:300] or resp.reason_phrase
    error = "access_denied" if resp.status_code in (401, 403) and m else f"http_{resp.status_code}"
    return error, message


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_process_group(proc: subprocess.Popen[bytes], timeout: float = _STOP_TIMEOUT_S) -> None:
    pgid = proc.pid  # started with start_new_session=True, so pgid == pid
    if proc.poll() is None or _group_alive(pgid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not _group_alive(pgid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)
    end = time.monotonic() + 10
    while _group_alive(pgid) and time.monotonic() < end:
        time.sleep(0.05)


_LIVE: set[KeycloakInstance] = set()


@atexit.register
def _stop_leftovers() -> None:
    for inst in list(_LIVE):
        with contextlib.suppress(Exception):
            inst.stop()


def _parent_death_signal() -> None:
    """In the child: get SIGTERM if the parent thread dies (kc.sh forwards it to java)."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


_HOME_PREFIX = "jit-keycloak-"
_OWNER_FILE = "jitdev-owner.pid"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_stale_homes(max_age_without_owner_s: float = 600.0) -> None:
    """Remove per-instance homes left behind by a killed test process (owner pid dead)."""
    for home in Path(tempfile.gettempdir()).glob(f"{_HOME_PREFIX}*"):
        try:
            owner = home / _OWNER_FILE
            if owner.is_file():
                stale = not _pid_alive(int(owner.read_text().strip() or "0"))
            else:  # being set up right now, or crashed before the server started
                stale = time.time() - home.stat().st_mtime > max_age_without_owner_s
        except (OSError, ValueError):
            continue
        if stale:
            shutil.rmtree(home, ignore_errors=True)


def _make_instance_home(dist: Path, realm_file: Path) -> Path:
    """Private Keycloak home for one test instance: shared read-only parts, own data/."""
    _reap_stale_homes()
    scratch = Path(tempfile.mkdtemp(prefix=_HOME_PREFIX))
    for name in _SHARED_HOME_ENTRIES:
        if (dist / name).exists():
            (scratch / name).symlink_to(dist / name)
    (scratch / "data" / "import").mkdir(parents=True)
    shutil.copy2(realm_file, scratch / "data" / "import" / realm_file.name)
    return scratch


def _wait_ready(inst: KeycloakInstance, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    health_url = f"{inst.management_url}/health/ready"
    discovery_url = f"{inst.issuer}/.well-known/openid-configuration"
    last = "no answer yet"
    with httpx.Client(timeout=5.0, verify=inst.verify) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise KeycloakError(
                    f"Keycloak exited with code {proc.returncode} during startup; "
                    f"last log lines of {log_path}:\n{_log_tail(log_path)}"
                )
            try:
                health = client.get(health_url)
                if health.status_code == 200 and health.json().get("status") == "UP":
                    disc = client.get(discovery_url)
                    if disc.status_code == 200:
                        issuer = disc.json().get("issuer")
                        if issuer != inst.issuer:
                            raise KeycloakError(f"Keycloak reports issuer {issuer!r}, expected {inst.issuer!r}")
                        return
                    last = f"{discovery_url} -> HTTP {disc.status_code}"
                else:
                    last = f"{health_url} -> HTTP {health.status_code} {health.text[:200]}"
            except (httpx.HTTPError, ValueError) as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.5)
    raise KeycloakError(
        f"Keycloak not ready after {timeout:.0f} s ({last}); last log lines of {log_path}:\n{_log_tail(log_path)}"
    )


def _reimport_if_changed(dist: Path, realm_file: Path) -> None:
    """Keycloak imports a realm only when it does not exist yet. When the realm file changed since the
    persistent database was made, start that database afresh so the new realm (clients, scopes, flows)
    is what runs. Local demo data only: workspaces made since are gone from Keycloak (say so)."""
    digest = hashlib.sha256(realm_file.read_bytes()).hexdigest()
    marker = dist / "data" / ".jit-realm.sha256"
    h2 = dist / "data" / "h2"
    if h2.exists() and (not marker.exists() or marker.read_text().strip() != digest):
        print(
            f"keycloak: {realm_file.name} changed since the local realm was imported: importing it again "
            "(workspaces created since then must be created again)",
            flush=True,
        )
        shutil.rmtree(h2)
    marker.write_text(digest + "\n")


def start_keycloak(
    variant: str,
    http_port: int,
    management_port: int,
    log_path: Path,
    realm_file: Path = DEFAULT_REALM_FILE,
    admin_user: str = "admin",
    admin_password: str = "admin",  # noqa: S107 - DEMO-ONLY bootstrap admin of local runs
    timeout: float = _STARTUP_TIMEOUT_S,
    detach: bool = False,
    *,
    https_port: int | None = None,
    tls: TlsFiles | None = None,
    http_enabled: bool = True,
) -> KeycloakInstance:
    """Start Keycloak on 127.0.0.1 with ``realm_file`` imported and wait until usable.

    ``variant`` is ``"run"`` (persistent dev-file DB, realm copied to the distribution's
    ``data/import``) or ``"test"`` (in-memory DB, private per-instance home so parallel
    runs never clash).  The server runs in its own process group with all output in
    ``log_path``.  Returns once ``/health/ready`` on the management port says UP *and*
    the realm's OpenID discovery document answers 200 with issuer
    ``http://127.0.0.1:<http_port>/realms/jit``; otherwise stops the server and raises
    :class:`KeycloakError` with the last 40 log lines.  ``admin_user`` /
    ``admin_password`` are the DEMO-ONLY bootstrap admin of the master realm.

    With ``https_port`` and ``tls`` (a certificate and key, and the CA that issued them) it serves HTTPS
    on that port as well, with Keycloak's https-certificate-file / https-certificate-key-file options;
    ``http_enabled=False`` then turns plain HTTP off (the TLS profile), and the instance's ``base_url``
    is the HTTPS one. The management port (health) stays plain HTTP on 127.0.0.1.

    By default the server is tied to the calling process: it gets SIGTERM if the caller
    dies and is stopped at interpreter exit.  ``detach=True`` (``make run``) lets it
    outlive the caller; stop it later with :meth:`KeycloakInstance.stop` or by sending
    SIGTERM to the process group ``instance.process.pid``.
    """
    realm_file = Path(realm_file).resolve()
    if not realm_file.is_file():
        raise KeycloakError(f"realm file {realm_file} does not exist")
    realm_name = json.loads(realm_file.read_text(encoding="utf-8")).get("realm", "jit")
    dist = ensure_distribution(variant)
    java_home = find_jdk()

    scratch: Path | None = None
    extra: list[str] = []
    if variant == "test":
        scratch = _make_instance_home(dist, realm_file)
        extra.append(f"-Dkc.home.dir={scratch}")  # kc.sh passes -D options to the JVM; last one wins
        cwd = scratch
    else:
        import_dir = dist / "data" / "import"
        import_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(realm_file, import_dir / realm_file.name)
        _reimport_if_changed(dist, realm_file)
        cwd = dist

    args = [
        str(dist / "bin" / "kc.sh"),
        *extra,
        "start",
        "--optimized",
        f"--http-enabled={'true' if http_enabled or https_port is None else 'false'}",
        "--hostname-strict=false",
        "--http-host=127.0.0.1",
        f"--http-port={http_port}",
        f"--http-management-port={management_port}",
        *_https_options(https_port, tls),
        "--cache=local",
        "--import-realm",
        "--log-console-color=false",
    ]
    env = _jdk_env(java_home)
    env["KC_BOOTSTRAP_ADMIN_USERNAME"] = admin_user  # DEMO-ONLY local admin
    env["KC_BOOTSTRAP_ADMIN_PASSWORD"] = admin_password

    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # PR_SET_PDEATHSIG fires when the *thread* that forked exits, so only use it from the main thread.
    tie_to_parent = not detach and threading.current_thread() is threading.main_thread()
    try:
        # Keycloak's log holds user names and realm events: for its owner only, like everything it writes.
        with os.fdopen(os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab") as log:
            os.fchmod(log.fileno(), 0o600)
            log.write(f"\n=== jitdev: {' '.join(args)} (JAVA_HOME={java_home})\n".encode())
            log.flush()
            proc = subprocess.Popen(
                args,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals kc.sh and java together
                preexec_fn=_parent_death_signal if tie_to_parent else None,
                umask=0o077,
            )
    except BaseException:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        raise
    if scratch is not None:
        (scratch / _OWNER_FILE).write_text(f"{proc.pid}\n")
    https_url = f"https://127.0.0.1:{https_port}" if https_port is not None else None
    inst = KeycloakInstance(
        base_url=https_url if https_url and not http_enabled else f"http://127.0.0.1:{http_port}",
        https_url=https_url,
        ca_file=tls.ca if tls is not None and https_port is not None else None,
        realm=realm_name,
        admin_user=admin_user,
        admin_password=admin_password,
        process=proc,
        log_path=log_path,
        management_url=f"http://127.0.0.1:{management_port}",
        home=scratch or dist,
        _scratch=scratch,
    )
    if not detach:
        _LIVE.add(inst)
    try:
        _wait_ready(inst, proc, log_path, timeout)
    except BaseException:
        inst.stop()
        raise
    return inst


def _https_options(https_port: int | None, tls: TlsFiles | None) -> list[str]:
    if https_port is None:
        return []
    if tls is None:
        raise KeycloakError("an HTTPS port needs a certificate and key (tls)")
    return [
        f"--https-port={https_port}",
        f"--https-certificate-file={tls.cert}",
        f"--https-certificate-key-file={tls.key}",
        # Health and metrics stay on plain HTTP, on the loopback management port only.
        "--http-management-scheme=http",
    ]


@contextlib.contextmanager
def running_keycloak(
    variant: str = "test",
    http_port: int | None = None,
    management_port: int | None = None,
    log_dir: Path | None = None,
    tls: TlsFiles | None = None,
) -> Iterator[KeycloakInstance]:
    """Context manager: start Keycloak (free ports when not given), yield it, always stop it. With
    ``tls`` it serves HTTPS on a free port too (``https_url``), beside plain HTTP.

    The log goes to ``log_dir/keycloak-<variant>-<http_port>.log`` (default
    ``CACHE_DIR/logs``).  When the ports were picked automatically and one was taken in
    the meantime, the start is retried once with new ports.
    """
    attempts = 2 if http_port is None or management_port is None else 1
    log_dir = Path(log_dir) if log_dir is not None else CACHE_DIR / "logs"
    inst: KeycloakInstance | None = None
    for attempt in range(attempts):
        hp = http_port or free_port()
        mp = management_port or free_port()
        while mp == hp:
            mp = free_port()
        sp = free_port() if tls is not None else None
        while sp is not None and sp in (hp, mp):
            sp = free_port()
        log_path = log_dir / f"keycloak-{variant}-{hp}.log"
        try:
            inst = start_keycloak(variant, hp, mp, log_path, https_port=sp, tls=tls)
            break
        except KeycloakError as exc:
            port_clash = "Address already in use" in str(exc) or "Port already bound" in str(exc)
            if attempt + 1 >= attempts or not port_clash:
                raise
    assert inst is not None
    try:
        yield inst
    finally:
        inst.stop()
