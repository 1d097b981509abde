"""Wires the console: the Starlette app, its middleware (signed session cookie, CSRF, body limit,
security headers) and its lifespan (the gRPC channels)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from asgi_csrf import asgi_csrf
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.console.backend import Backend
from services.console.sessions import Sessions
from services.console.settings import ConsoleSettings
from services.console.web import Console

#: The largest body of a form post; uploads have their own limit (JIT_CONSOLE_UPLOAD_MAX_MB).
FORM_MAX_BYTES = 256 * 1024
SESSION_COOKIE = "jit_console"


#: Strict-Transport-Security's max-age when the console serves HTTPS itself (one year).
HSTS_MAX_AGE_S = 365 * 24 * 3600


def security_headers(keycloak_origin: str, https: bool = False) -> list[tuple[bytes, bytes]]:
    """Pages load scripts, styles and images from the console only, are never framed, and post forms
    to the console only (and, for logout, its redirect to Keycloak). Served over HTTPS, browsers are told
    to use nothing else for the console's host (the console is its own TLS end: no proxy adds it)."""
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        f"form-action 'self' {keycloak_origin}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )
    headers = [
        (b"content-security-policy", csp.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"x-frame-options", b"DENY"),
    ]
    if https:
        headers.append((b"strict-transport-security", f"max-age={HSTS_MAX_AGE_S}".encode()))
    return headers


class Guard:
    """Bounds request bodies (uploads have their own route and limit) and adds the security headers."""

    def __init__(self, app: ASGIApp, upload_max_bytes: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.app = app
        self.upload_max = upload_max_bytes
        self.headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        limit = self.upload_max if path.startswith("/requests/") and path.endswith("/items") else FORM_MAX_BYTES
        seen = 0

        async def bounded_receive() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
            return message

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_413(with_headers)
                return
        try:
            body: Receive | None = bounded_receive
            if limit == FORM_MAX_BYTES and scope["method"] == "POST":
                body = await _readable_form(scope, bounded_receive, with_headers)
            if body is not None:
                await self.app(scope, body, with_headers)
        except _TooLarge:
            await _send_413(with_headers)


class _TooLarge(Exception):
    pass


async def _send_413(send: Send) -> None:
    await _send_text(send, 413, "Too large.")


async def _send_text(send: Send, status: int, words: str) -> None:
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": f"{words}\n".encode()})


async def _readable_form(scope: Scope, receive: Receive, send: Send) -> Receive | None:
    """A form post the CSRF check (asgi-csrf) and the pages can read: a multipart body names its boundary,
    a urlencoded one is UTF-8. Otherwise it is refused here in words (400; None returned), as the library
    would fail on it. The urlencoded body (at most ``FORM_MAX_BYTES``) is read and given on unchanged."""
    content_type = dict(scope.get("headers", [])).get(b"content-type", b"")
    kind = content_type.split(b";", 1)[0].strip().lower()
    if kind == b"multipart/form-data" and b"; boundary=" not in content_type:
        await _send_text(send, 400, "Refused: the form was sent without its multipart boundary.")
        return None
    if kind != b"application/x-www-form-urlencoded":
        return receive
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            break
    try:
        b"".join(m.get("body", b"") for m in messages).decode("utf-8")
    except UnicodeDecodeError:
        await _send_text(send, 400, "Refused: the form was not sent as UTF-8 text.")
        return None

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    return replay


#: What a form post refused by the CSRF check says (an old page, or a post from elsewhere).
CSRF_WORDS = "Refused: this form is out of date or was not sent from the console. Reload the page and submit it again."


async def _csrf_failed(scope: Scope, send: Send, reason: Any) -> None:
    await _send_text(send, 403, CSRF_WORDS)


def create_app(settings: ConsoleSettings) -> Any:
    if not settings.console_client_secret.get_secret_value():
        raise SystemExit("JIT_CONSOLE_CLIENT_SECRET is not set: the console's OIDC client needs its secret")
    secure = settings.cookie_secure()
    if not secure and not settings.public_url.startswith("http://"):
        raise SystemExit("JIT_CONSOLE_COOKIE_SECURE=false needs a plain-HTTP public URL on loopback")
    sessions = Sessions(settings)
    console = Console(settings, sessions)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        console.backend = Backend(settings)
        try:
            yield
        finally:
            await console.backend.close()

    app = Starlette(
        routes=console.routes(),
        lifespan=lifespan,
        middleware=[
            Middleware(
                SessionMiddleware,  # type: ignore[arg-type]
                secret_key=secrets.token_urlsafe(48),
                session_cookie=SESSION_COOKIE,
                max_age=12 * 3600,
                same_site="lax",
                https_only=secure,
            )
        ],
    )
    # SameSite=Lax like the session cookie: a Strict token cookie is not sent when the console is opened
    # from a link on another site, and a new one then replaces it under the forms open in other tabs.
    # The token check stops forged posts; a cross-site post carries no session cookie either (Lax).
    protected = asgi_csrf(
        app,
        signing_secret=secrets.token_urlsafe(48),
        cookie_secure=secure,
        cookie_samesite="Lax",
        send_csrf_failed=_csrf_failed,
    )
    keycloak = urlsplit(settings.keycloak_url)
    origin = f"{keycloak.scheme}://{keycloak.netloc}"
    https = settings.public_url.startswith("https://")
    return Guard(protected, settings.console_upload_max_mb * 1024 * 1024, security_headers(origin, https))
