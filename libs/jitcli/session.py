"""Log in to Keycloak and keep the tokens of one or more users on disk.

Layout under ``JIT_CONFIG_DIR`` (default ``~/.config/jit``)::

    tokens/<username>.json   access + refresh token and their expiry (mode 0600, directory 0700)
    current                  the username commands act as when ``--as`` is not given

Two ways in:

* the OAuth 2.0 password grant on client ``jit-cli``: Keycloak allows it only for DEMO accounts
  (realm role ``demo_user``); everyone else gets ``access_denied``;
* the OAuth 2.0 device authorization grant (RFC 8628): the user opens a URL, types a code and logs in
  in a browser while the command polls the token endpoint.

An access token expiring within :data:`REFRESH_MARGIN_S` seconds is renewed with the refresh token
before use; when that fails, the user has to log in again.  Tokens are decoded without signature
verification here, for display only: the services verify them.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
import httpx
import jwt
from opentelemetry.instrumentation.grpc import client_interceptor
from opentelemetry.instrumentation.grpc.grpcext import intercept_channel

from jitcli.config import CliSettings
from jitcli.render import CliError, ServiceCallError, scrub

REFRESH_MARGIN_S = 30.0
RPC_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 15.0
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@+-]{0,254}$")
_HIDDEN_ROLES = {"offline_access", "uma_authorization", "demo_user"}


@dataclass
class TokenSet:
    """What is cached for one user."""

    username: str
    access_token: str
    refresh_token: str
    #: Epoch seconds.
    expires_at: float
    #: Epoch seconds; 0 when Keycloak gave no limit.
    refresh_expires_at: float
    issuer: str

    @classmethod
    def from_response(cls, body: dict[str, Any], issuer: str, now: float | None = None) -> TokenSet:
        now = time.time() if now is None else now
        claims = decode_claims(body["access_token"])
        refresh_in = float(body.get("refresh_expires_in") or 0)
        return cls(
            username=str(claims.get("preferred_username") or ""),
            access_token=body["access_token"],
            refresh_token=str(body.get("refresh_token") or ""),
            expires_at=now + float(body.get("expires_in") or 0),
            refresh_expires_at=now + refresh_in if refresh_in > 0 else 0.0,
            issuer=issuer,
        )


@dataclass
class DeviceCode:
    """What the user needs to approve a device login."""

    verification_uri: str
    verification_uri_complete: str
    user_code: str
    expires_in: int
    interval: int
    device_code: str


def decode_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, WITHOUT verifying it (display only)."""
    try:
        return dict(jwt.decode(token, options={"verify_signature": False}))
    except jwt.PyJWTError:
        return {}


def identity(claims: dict[str, Any]) -> dict[str, Any]:
    """Who a token says its holder is: username, jurisdiction, roles and workspaces."""
    roles = sorted(
        r
        for r in (claims.get("realm_access") or {}).get("roles") or []
        if r not in _HIDDEN_ROLES and not r.startswith("default-roles-")
    )
    workspaces: set[str] = set()
    for group in claims.get("groups") or []:
        parts = str(group).strip("/").split("/")
        if len(parts) == 3 and parts[0] == "workspaces":
            workspaces.add(parts[1])
    return {
        "username": claims.get("preferred_username", ""),
        "jurisdiction": claims.get("jurisdiction", ""),
        "roles": roles,
        "workspaces": sorted(workspaces),
    }


def check_username(username: str) -> str:
    """Lower-case ``username`` and make sure it is safe as a file name."""
    name = username.strip().lower()
    if not _USERNAME_RE.fullmatch(name):
        raise CliError(f"invalid username {username!r}")
    return name


def _oauth_error(resp: httpx.Response) -> tuple[str, str]:
    """``(error, description)`` of a refused token request (OAuth JSON, or Keycloak's HTML error page)."""
    try:
        body = resp.json()
        if isinstance(body, dict) and body.get("error"):
            return str(body["error"]), str(body.get("error_description") or "")
    except ValueError:
        pass
    m = re.search(r'id="kc-error-message"[^>]*>(.*?)</div>', resp.text, re.DOTALL)
    text = html.unescape(" ".join(re.sub(r"<[^>]+>", " ", m.group(1) if m else "").split()))
    return ("access_denied" if m else f"http_{resp.status_code}"), text


def _write_private(path: Path, text: str, root: Path) -> None:
    """Write ``text`` to ``path`` (under ``root``) atomically; new directories are 0700, the file 0600."""
    for directory in (root, path.parent):
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


class Session:
    """The token cache of one ``JIT_CONFIG_DIR`` plus the Keycloak calls that fill it."""

    def __init__(self, settings: CliSettings, http: httpx.Client | None = None) -> None:
        self.settings = settings
        self.dir = Path(settings.config_dir).expanduser()
        self._http = http

    # ------------------------------------------------------------ cache

    def token_path(self, username: str) -> Path:
        return self.dir / "tokens" / f"{check_username(username)}.json"

    @property
    def current_path(self) -> Path:
        return self.dir / "current"

    def current_user(self) -> str | None:
        try:
            name = self.current_path.read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return name or None

    def set_current(self, username: str) -> None:
        _write_private(self.current_path, check_username(username) + "\n", self.dir)

    def resolve_user(self, as_user: str | None) -> str:
        """The user to act as: ``--as`` if given, else the active one."""
        if as_user:
            return check_username(as_user)
        current = self.current_user()
        if not current:
            raise CliError("not logged in: run `jit login USERNAME` (or `jit login --device`)")
        return current

    def cached_users(self) -> list[str]:
        return sorted(p.stem for p in (self.dir / "tokens").glob("*.json"))

    def load(self, username: str) -> TokenSet | None:
        try:
            data = json.loads(self.token_path(username).read_text(encoding="utf-8"))
            return TokenSet(**data)
        except (OSError, ValueError, TypeError):
            return None

    def save(self, tokens: TokenSet) -> None:
        _write_private(self.token_path(tokens.username), json.dumps(asdict(tokens), indent=1) + "\n", self.dir)

    def remove(self, username: str) -> bool:
        """Forget ``username`` (ending its Keycloak session if possible); True if it was cached."""
        tokens = self.load(username)
        if tokens is not None and tokens.refresh_token:
            with contextlib.suppress(CliError):
                self._post(self.settings.logout_url, {"refresh_token": tokens.refresh_token}, timeout=5.0)
        path = self.token_path(username)
        existed = path.exists()
        path.unlink(missing_ok=True)
        if self.current_user() == check_username(username):
            self.current_path.unlink(missing_ok=True)
        return existed

    # ------------------------------------------------------------ tokens

    def access_token(self, username: str, now: float | None = None) -> str:
        """A valid access token for ``username``, refreshed first if it expires within 30 s."""
        now = time.time() if now is None else now
        tokens = self.load(username)
        if tokens is None:
            raise CliError(f"not logged in as {username}: run `jit login {username}`")
        if tokens.issuer != self.settings.issuer:
            raise CliError(
                f"the session of {username} is for {tokens.issuer}, not {self.settings.issuer}: "
                f"run `jit login {username}`"
            )
        if tokens.expires_at - REFRESH_MARGIN_S > now:
            return tokens.access_token
        return self.refresh(tokens, now).access_token

    def refresh(self, tokens: TokenSet, now: float | None = None) -> TokenSet:
        """Renew ``tokens`` with the refresh token and cache the result."""
        expired = CliError(f"session for {tokens.username} expired: run `jit login {tokens.username}`")
        now = time.time() if now is None else now
        if not tokens.refresh_token or (tokens.refresh_expires_at and tokens.refresh_expires_at <= now):
            raise expired
        resp = self._post(
            self.settings.token_url, {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        )
        if resp.status_code in (400, 401):  # invalid_grant: session ended, idle too long, revoked
            raise expired
        if resp.status_code != 200:
            error, description = _oauth_error(resp)
            detail = f"{error}: {description}" if description else error
            raise CliError(f"refreshing the session of {tokens.username} failed: {detail}")
        fresh = TokenSet.from_response(resp.json(), self.settings.issuer, now)
        fresh.username = fresh.username or tokens.username
        self.save(fresh)
        return fresh

    # ------------------------------------------------------------ logins

    def login_password(self, username: str, password: str) -> TokenSet:
        """Password grant (DEMO accounts only); caches the tokens and makes the user active."""
        name = check_username(username)
        resp = self._post(
            self.settings.token_url,
            {"grant_type": "password", "username": name, "password": password, "scope": "openid"},
        )
        if resp.status_code != 200:
            error, description = _oauth_error(resp)
            raise CliError(f"login as {name} refused: {error}" + (f": {description}" if description else ""))
        return self._store(TokenSet.from_response(resp.json(), self.settings.issuer))

    def start_device_login(self) -> DeviceCode:
        """Ask Keycloak for a device code and the URL where the user approves it."""
        resp = self._post(self.settings.device_auth_url, {"scope": "openid"})
        if resp.status_code != 200:
            error, description = _oauth_error(resp)
            raise CliError(f"device login refused: {error}" + (f": {description}" if description else ""))
        body = resp.json()
        return DeviceCode(
            verification_uri=body["verification_uri"],
            verification_uri_complete=body.get("verification_uri_complete") or body["verification_uri"],
            user_code=body["user_code"],
            expires_in=int(body.get("expires_in") or 600),
            interval=max(int(body.get("interval") or 5), 1),
            device_code=body["device_code"],
        )

    def finish_device_login(
        self,
        code: DeviceCode,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> TokenSet:
        """Poll the token endpoint until the user approves, honouring ``interval`` and ``slow_down``."""
        interval = code.interval
        deadline = clock() + code.expires_in
        expired = CliError("the device code expired before the login was approved: run `jit login --device` again")
        while True:
            if clock() + interval > deadline:
                raise expired
            sleep(interval)
            resp = self._post(self.settings.token_url, {"grant_type": DEVICE_GRANT, "device_code": code.device_code})
            if resp.status_code == 200:
                return self._store(TokenSet.from_response(resp.json(), self.settings.issuer))
            error, description = _oauth_error(resp)
            if error == "authorization_pending":
                continue
            if error == "slow_down":
                interval += 5
                continue
            if error == "expired_token":
                raise expired
            if error == "access_denied":
                raise CliError("the device login was denied")
            raise CliError(f"device login failed: {error}" + (f": {description}" if description else ""))

    # ------------------------------------------------------------ helpers

    def _store(self, tokens: TokenSet) -> TokenSet:
        if not tokens.username:
            raise CliError("Keycloak returned a token without preferred_username")
        self.save(tokens)
        self.set_current(tokens.username)
        return tokens

    def _post(self, url: str, data: dict[str, str], timeout: float = HTTP_TIMEOUT_S) -> httpx.Response:
        form = {"client_id": self.settings.client_id, **data}
        try:
            if self._http is not None:
                return self._http.post(url, data=form, timeout=timeout)
            return httpx.post(url, data=form, timeout=timeout, verify=self.settings.http_verify())
        except httpx.HTTPError as exc:
            raise CliError(
                f"Keycloak not reachable at {self.settings.keycloak_url} ({type(exc).__name__}: {exc})"
            ) from None


def app_state(ctx: Any) -> AppState:
    """The root app's state of a command's typer context."""
    state = ctx.obj
    if not isinstance(state, AppState):
        raise CliError("internal: command run without the root `jit` app")
    return state


@dataclass
class AppState:
    """What the root options decide for every command: settings, ``--as`` and ``--json``."""

    settings: CliSettings
    as_user: str | None = None
    json: bool = False
    _session: Session | None = field(default=None, repr=False)

    @property
    def session(self) -> Session:
        if self._session is None:
            self._session = Session(self.settings)
        return self._session

    def user(self) -> str:
        """The user commands act as (``--as`` or the active one)."""
        return self.session.resolve_user(self.as_user)

    def call(self, service: str, stub_cls: Any, method: str, request: Any, timeout: float = RPC_TIMEOUT_S) -> Any:
        """Call ``method`` of ``service`` as the acting user (bearer token, 10 s deadline)."""
        token = self.session.access_token(self.user())
        addr = self.settings.service_addr(service)
        provider = _tracer_provider()
        with self.settings.channel(addr) as raw:
            # The CLI starts the trace: its client span is the parent of the service's server span, and
            # so of the outbox, NATS and consumer spans that follow (JIT_OTEL_EXPORTER picks the exporter).
            channel = intercept_channel(raw, client_interceptor(tracer_provider=provider))
            rpc = getattr(stub_cls(channel), method)
            try:
                response = rpc(request, metadata=(("authorization", f"Bearer {token}"),), timeout=timeout)
                # What other users wrote is shown as text, never acted on by the terminal; --json keeps
                # the exact data (emit_json escapes it).
                return response if self.json else scrub(response)
            except grpc.RpcError as exc:
                raise ServiceCallError(service, addr, exc) from None
            finally:
                provider.force_flush(timeout_millis=2000)  # type: ignore[attr-defined]


@functools.cache
def _tracer_provider() -> Any:
    from jitlib.config import CommonSettings
    from jitlib.telemetry import setup_tracing

    return setup_tracing("jit-cli", CommonSettings())
