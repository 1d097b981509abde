"""Who is logged in to the console: the OpenID Connect authorization-code flow with PKCE (Authlib), and
the users' tokens held in this process's memory, never in the browser.

The browser holds one signed, HttpOnly cookie with a random session id (and, during a login, Authlib's
state, nonce and PKCE verifier). The access token goes only to the gRPC services, as the user's own
bearer token: the console has no access rule of its own. A session ends at logout, after
``JIT_CONSOLE_IDLE_MINUTES`` unused, when Keycloak refuses to refresh it, or when the console restarts.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.integrations.starlette_client import OAuth, OAuthError
from starlette.requests import Request

from services.console.settings import ConsoleSettings

#: Renew the access token when it expires within this many seconds.
REFRESH_MARGIN_S = 30.0
#: Sessions held at most; the least recently used one goes first.
MAX_SESSIONS = 10_000
_HIDDEN_ROLES = {"offline_access", "uma_authorization", "demo_user"}
#: What the login page says when Keycloak (or a link) sends the user back with an OAuth error: fixed
#: words, never the error text the URL carries (anyone can write a link to the callback).
_LOGIN_ERRORS = {
    "access_denied": "the login was cancelled or refused",
    "login_required": "the login did not complete",
    "temporarily_unavailable": "the login service is not available just now",
}
_LOGIN_FAILED = "the login did not complete"
#: The longest OAuth error code logged.
_LOGGED_CODE_MAX = 64
log = logging.getLogger(__name__)


class LoginRequired(Exception):
    """No session, or one that can no longer be renewed: the user logs in again."""


@dataclass
class UserSession:
    sid: str
    access_token: str
    refresh_token: str
    id_token: str
    expires_at: float
    refresh_expires_at: float
    last_seen: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    #: A draft form the service refused (the page it goes back to, what was typed), shown once there
    #: (``present.Kept``): in memory with the tokens, never in the cookie.
    kept_form: tuple[str, Any] | None = field(default=None, repr=False)
    #: The evidence service's last answer to this user's "verify every item" (``VerifyEvidenceResponse``),
    #: shown once on the audit page the post goes back to.
    evidence_check: Any = field(default=None, repr=False)

    def take_form(self, path: str) -> Any:
        """The form kept for the page at ``path`` (``present.Kept``), once; None when there is none."""
        kept, self.kept_form = self.kept_form, None
        return kept[1] if kept is not None and kept[0] == path else None

    @property
    def claims(self) -> dict[str, Any]:
        """The access token's claims, for display only (the services verify the token)."""
        try:
            return dict(jwt.decode(self.access_token, options={"verify_signature": False}))
        except jwt.PyJWTError:
            return {}

    @property
    def username(self) -> str:
        return str(self.claims.get("preferred_username") or "")

    @property
    def jurisdiction(self) -> str:
        return str(self.claims.get("jurisdiction") or "")

    @property
    def roles(self) -> list[str]:
        return sorted(
            r
            for r in (self.claims.get("realm_access") or {}).get("roles") or []
            if r not in _HIDDEN_ROLES and not r.startswith("default-roles-")
        )

    @property
    def workspaces(self) -> list[str]:
        """The workspaces the user's token names (``/workspaces/<id>/<jurisdiction>`` groups)."""
        found: set[str] = set()
        for group in self.claims.get("groups") or []:
            parts = str(group).strip("/").split("/")
            if len(parts) == 3 and parts[0] == "workspaces":
                found.add(parts[1])
        return sorted(found)


def _expiry(body: dict[str, Any], key: str, now: float) -> float:
    seconds = float(body.get(key) or 0)
    return now + seconds if seconds > 0 else 0.0


class Sessions:
    """The console's logged-in users, and the Keycloak calls that log them in, renew and end them."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self._sessions: OrderedDict[str, UserSession] = OrderedDict()
        self._idle_s = settings.console_idle_minutes * 60.0
        self.oauth = OAuth()
        self.oauth.register(
            name="keycloak",
            client_id=settings.console_client_id,
            client_secret=settings.console_client_secret.get_secret_value(),
            server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
            client_kwargs={"scope": "openid", "code_challenge_method": "S256", "verify": settings.http_verify()},
        )

    @property
    def client(self) -> Any:
        return self.oauth.create_client("keycloak")

    # ------------------------------------------------------------ the flow

    async def begin(self, request: Request) -> Any:
        """Redirect to Keycloak's login page (state, nonce and the PKCE verifier go in the cookie)."""
        return await self.client.authorize_redirect(request, f"{self.settings.public_url}/auth/callback")

    async def finish(self, request: Request) -> UserSession:
        """Exchange the code (with the PKCE verifier) for tokens; the ID token is verified by Authlib."""
        try:
            body = await self.client.authorize_access_token(request)
        except OAuthError as exc:
            code = str(exc.error or "")
            log.warning("a login did not complete: OAuth error %r", code[:_LOGGED_CODE_MAX])
            raise LoginRequired(_LOGIN_ERRORS.get(code, _LOGIN_FAILED)) from None
        session = self._new(body)
        request.session.clear()
        request.session["sid"] = session.sid
        return session

    def _new(self, body: dict[str, Any]) -> UserSession:
        now = time.time()
        session = UserSession(
            sid=secrets.token_urlsafe(32),
            access_token=str(body["access_token"]),
            refresh_token=str(body.get("refresh_token") or ""),
            id_token=str(body.get("id_token") or ""),
            expires_at=float(body.get("expires_at") or _expiry(body, "expires_in", now)),
            refresh_expires_at=_expiry(body, "refresh_expires_in", now),
        )
        self._sessions[session.sid] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        return session

    # ------------------------------------------------------------ use

    def current(self, request: Request) -> UserSession | None:
        """The request's session, or None (no cookie, ended, or idle for too long)."""
        sid = request.session.get("sid")
        session = self._sessions.get(sid) if isinstance(sid, str) else None
        if session is None:
            return None
        now = time.monotonic()
        if now - session.last_seen > self._idle_s:
            self._sessions.pop(session.sid, None)
            return None
        session.last_seen = now
        self._sessions.move_to_end(session.sid)
        return session

    def held(self, session: UserSession) -> bool:
        """Whether ``session`` is still live (not ended, not idle too long), without counting the question
        as use: an open live stream does not keep an idle session alive."""
        return self._sessions.get(session.sid) is session and time.monotonic() - session.last_seen <= self._idle_s

    async def access_token(self, session: UserSession) -> str:
        """A valid access token for the session, renewed with its refresh token when near expiry."""
        async with session.lock:
            now = time.time()
            if session.expires_at - REFRESH_MARGIN_S > now:
                return session.access_token
            if not session.refresh_token or (session.refresh_expires_at and session.refresh_expires_at <= now):
                self.end(session)
                raise LoginRequired("your session expired")
            metadata = await self.client.load_server_metadata()
            async with AsyncOAuth2Client(
                client_id=self.settings.console_client_id,
                client_secret=self.settings.console_client_secret.get_secret_value(),
                timeout=15,
                verify=self.settings.http_verify(),
            ) as http:
                try:
                    body = await http.refresh_token(metadata["token_endpoint"], refresh_token=session.refresh_token)
                except OAuthError:
                    self.end(session)
                    raise LoginRequired("your session ended in Keycloak") from None
            session.access_token = str(body["access_token"])
            session.refresh_token = str(body.get("refresh_token") or session.refresh_token)
            session.id_token = str(body.get("id_token") or session.id_token)
            session.expires_at = float(body.get("expires_at") or _expiry(body, "expires_in", now))
            session.refresh_expires_at = _expiry(body, "refresh_expires_in", now) or session.refresh_expires_at
            return session.access_token

    def end(self, session: UserSession) -> None:
        self._sessions.pop(session.sid, None)

    async def logout_url(self, session: UserSession | None) -> str:
        """Keycloak's end-session URL (RP-initiated logout), coming back to the console's start page. With
        no session (it went idle, or the console restarted) there is no ID token to name: Keycloak then
        asks the user to confirm, and still ends its own session."""
        metadata = await self.client.load_server_metadata()
        query = {
            "client_id": self.settings.console_client_id,
            "post_logout_redirect_uri": f"{self.settings.public_url}/",
        }
        if session is not None and session.id_token:
            query["id_token_hint"] = session.id_token
        return f"{metadata['end_session_endpoint']}?{urlencode(query)}"
