"""Who is calling: offline verification of Keycloak access tokens, and the Principal.

Tokens are verified against the realm's JWKS, fetched once and cached; an unknown key id triggers one
refresh (rate-limited) so key rotation in Keycloak needs no restart. Issuer, audience, expiry and the
algorithm (from an allow-list, never "none" or HMAC) are checked. No call to Keycloak per request.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import ssl
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt

from jitlib.errors import Unauthenticated
from jitlib.jurisdictions import is_jurisdiction
from jitlib.principal import Principal

KNOWN_ROLES = frozenset({"prosecutor", "police_liaison", "participant", "operator", "auditor"})
_WORKSPACE_GROUP = re.compile(r"^/workspaces/(?P<ws>[a-z0-9][a-z0-9-]{2,62})/(?P<jur>[A-Z]{2}|[A-Z]{3,8})$")
_FORBIDDEN_ALGS = frozenset({"none", "HS256", "HS384", "HS512"})


__all__ = [
    "JwksCache",
    "Principal",
    "TokenVerifier",
    "TrustedIssuer",
    "current",
    "is_jurisdiction",
    "principal_from_claims",
]


def principal_from_claims(claims: dict[str, Any], token: str = "") -> Principal:
    """Build a Principal from verified access-token claims; refuses tokens without a jurisdiction."""
    jurisdiction = claims.get("jurisdiction")
    if isinstance(jurisdiction, list):  # a multivalued mapper would give a list; accept exactly one
        jurisdiction = jurisdiction[0] if len(jurisdiction) == 1 else None
    if not isinstance(jurisdiction, str) or not is_jurisdiction(jurisdiction):
        raise Unauthenticated("NO_JURISDICTION", "token carries no valid jurisdiction claim")
    roles_claim = (claims.get("realm_access") or {}).get("roles") or []
    roles = frozenset(r for r in roles_claim if r in KNOWN_ROLES)
    workspaces = set()
    for path in claims.get("groups") or []:
        m = _WORKSPACE_GROUP.fullmatch(str(path))
        # Membership counts only for the jurisdiction the user acts for.
        if m and m.group("jur") == jurisdiction:
            workspaces.add(m.group("ws"))
    return Principal(
        user_id=str(claims["sub"]),
        username=str(claims.get("preferred_username") or claims["sub"]),
        jurisdiction=jurisdiction,
        roles=roles,
        workspaces=frozenset(workspaces),
        token=token,
        expires_at=_expiry(claims.get("exp")),
    )


def _expiry(exp: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(exp), tz=UTC) if exp is not None else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


class JwksCache:
    """The realm's signing keys, fetched lazily and refreshed on an unknown key id."""

    def __init__(
        self,
        jwks_url: str,
        *,
        min_refresh_seconds: float = 10.0,
        timeout: float = 5.0,
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self._url = jwks_url
        #: How Keycloak's HTTPS certificate is checked: the system's roots, or a context trusting the CA.
        self._verify = verify
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._min_refresh = min_refresh_seconds
        self._timeout = timeout
        self._lock = asyncio.Lock()

    def set_keys(self, jwks: dict[str, Any]) -> None:
        """Install a JWKS document (used after a fetch, and by unit tests)."""
        keys: dict[str, jwt.PyJWK] = {}
        for jwk in jwks.get("keys", []):
            if jwk.get("use", "sig") != "sig" or "kid" not in jwk:
                continue
            try:
                keys[jwk["kid"]] = jwt.PyJWK(jwk)
            except jwt.PyJWTError:
                continue  # e.g. an encryption key type PyJWT cannot use for signatures
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _refresh(self) -> None:
        async with httpx.AsyncClient(timeout=self._timeout, verify=self._verify) as client:
            response = await client.get(self._url)
            response.raise_for_status()
            self.set_keys(response.json())

    async def get(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        async with self._lock:
            key = self._keys.get(kid)
            if key is None and time.monotonic() - self._fetched_at >= self._min_refresh:
                try:
                    await self._refresh()
                except (httpx.HTTPError, ValueError) as exc:
                    raise Unauthenticated("JWKS_UNAVAILABLE", "cannot fetch the realm's signing keys") from exc
                key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated("UNKNOWN_KEY", "token signed with an unknown key")
        return key


@dataclass(frozen=True)
class TrustedIssuer:
    """A realm this node trusts, with its signing keys, and the one jurisdiction it speaks for. ``None``
    means any: the one-node default, where one realm holds every country's demo users. With per-country
    nodes each country's realm speaks for its own country only, so a DE realm cannot mint an NL user."""

    issuer: str
    jwks: JwksCache
    jurisdiction: str | None = None


class TokenVerifier:
    """Verifies bearer tokens offline and returns the Principal."""

    def __init__(
        self,
        *,
        audience: str,
        issuer: str = "",
        jwks: JwksCache | None = None,
        trusted: Iterable[TrustedIssuer] = (),
        clients: Iterable[str] = ("jit-cli",),
        algorithms: Iterable[str] = ("RS256",),
        leeway_seconds: int = 30,
        cache_size: int = 10_000,
    ) -> None:
        algs = [a for a in algorithms if a not in _FORBIDDEN_ALGS]
        if not algs:
            raise ValueError("no acceptable signature algorithm configured")
        issuers = list(trusted) or ([TrustedIssuer(issuer, jwks)] if issuer and jwks is not None else [])
        if not issuers:
            raise ValueError("no trusted issuer configured")
        self._issuers = {t.issuer: t for t in issuers}
        self._audience = audience
        self._clients = frozenset(clients)
        if not self._clients:
            raise ValueError("no OIDC client allowed: list at least one (oidc_clients)")
        self._algorithms = algs
        self._leeway = leeway_seconds
        # Verified tokens, by their exact bytes, until they expire: a signature is checked once, not on
        # every call a client makes with the same token.
        self._verified: OrderedDict[str, tuple[float, Principal]] = OrderedDict()
        self._cache_size = cache_size

    async def verify(self, token: str) -> Principal:
        hit = self._verified.get(token)
        if hit is not None:
            exp, principal = hit
            if time.time() < exp + self._leeway:
                self._verified.move_to_end(token)
                return principal
            del self._verified[token]
            raise Unauthenticated("TOKEN_EXPIRED", "access token has expired")
        principal, exp = await self._verify_signed(token)
        self._verified[token] = (exp, principal)
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return principal

    async def _verify_signed(self, token: str) -> tuple[Principal, float]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthenticated("MALFORMED_TOKEN", "bearer token is not a valid JWT") from exc
        alg = header.get("alg")
        if alg not in self._algorithms:
            raise Unauthenticated("ALGORITHM_NOT_ALLOWED", f"token algorithm {alg!r} is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthenticated("UNKNOWN_KEY", "token has no key id")
        # Which realm's keys to check the signature with: the one the token names, if this node trusts it.
        try:
            named = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError as exc:
            raise Unauthenticated("MALFORMED_TOKEN", "bearer token is not a valid JWT") from exc
        trusted = self._issuers.get(named) if isinstance(named, str) else None
        if trusted is None:
            raise Unauthenticated("WRONG_ISSUER", "access token was issued by a realm this node does not trust")
        key = await trusted.jwks.get(kid)
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                audience=self._audience,
                issuer=trusted.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthenticated("TOKEN_EXPIRED", "access token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthenticated("WRONG_AUDIENCE", "access token is not meant for this service") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthenticated("WRONG_ISSUER", "access token was issued by another realm") from exc
        except jwt.InvalidSignatureError as exc:
            raise Unauthenticated("BAD_SIGNATURE", "access token signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise Unauthenticated("INVALID_TOKEN", f"access token refused: {exc}") from exc
        # An access token, not an ID or refresh token signed by the same realm key; and one made for a
        # client of this platform, not for any client someone adds to the realm later.
        if claims.get("typ") != "Bearer":
            raise Unauthenticated("WRONG_TOKEN_TYPE", "not an access token")
        if claims.get("azp") not in self._clients:
            raise Unauthenticated("CLIENT_NOT_ALLOWED", "access token was issued to a client this node does not accept")
        principal = principal_from_claims(claims, token)
        if trusted.jurisdiction is not None and principal.jurisdiction != trusted.jurisdiction:
            raise Unauthenticated(
                "ISSUER_JURISDICTION_MISMATCH",
                f"the realm that issued this token speaks for {trusted.jurisdiction} only",
            )
        return principal, float(claims["exp"])


_current: contextvars.ContextVar[Principal] = contextvars.ContextVar("jit_principal")


def bind(principal: Principal) -> contextvars.Token[Principal]:
    return _current.set(principal)


def unbind(token: contextvars.Token[Principal]) -> None:
    _current.reset(token)


def current() -> Principal:
    """The Principal of the RPC being served (set by the server's call entry, ``jitlib.server.CallEntry``)."""
    try:
        return _current.get()
    except LookupError:
        raise Unauthenticated("NO_PRINCIPAL", "no authenticated caller") from None


def bearer_from_metadata(metadata: Iterable[tuple[str, str | bytes]]) -> str:
    for key, value in metadata:
        if key.lower() == "authorization":
            text = value.decode() if isinstance(value, bytes) else value
            scheme, _, credentials = text.partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return credentials.strip()
            raise Unauthenticated("BAD_AUTHORIZATION", "authorization metadata must be 'Bearer <token>'")
    raise Unauthenticated("NO_TOKEN", "missing authorization metadata (Bearer token)")
