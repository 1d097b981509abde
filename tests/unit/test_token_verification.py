"""Token verification refuses everything but a well-formed, unexpired token for this audience, from this
issuer, signed by the realm's key with an allowed algorithm."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from jitlib.auth import JwksCache, TokenVerifier
from jitlib.errors import Unauthenticated

ISSUER = "http://127.0.0.1:8080/realms/jit"
AUDIENCE = "jit-services"


def _keypair(kid: str) -> tuple[Any, dict[str, Any]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": kid, "use": "sig", "alg": "RS256"})
    return key, jwk


REALM_KEY, REALM_JWK = _keypair("realm-key")
FOREIGN_KEY, _ = _keypair("realm-key")  # same kid, different key: a forged signature


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "typ": "Bearer",
        "azp": "jit-cli",
        "aud": [AUDIENCE, "account"],
        "sub": "0b8f6f2e-0000-4000-8000-000000000001",
        "preferred_username": "nl-prosecutor",
        "iat": now,
        "exp": now + 300,
        "jurisdiction": "NL",
        "realm_access": {"roles": ["prosecutor", "demo_user", "offline_access"]},
        "groups": ["/workspaces/jit-demo/NL", "/workspaces/other/DE", "/unrelated"],
    }
    base.update(over)
    return base


def sign(payload: dict[str, Any], key: Any = REALM_KEY, kid: str = "realm-key", alg: str = "RS256") -> str:
    return jwt.encode(payload, key, algorithm=alg, headers={"kid": kid})


def verifier() -> TokenVerifier:
    cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=3600)
    cache.set_keys({"keys": [REALM_JWK]})
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=cache, algorithms=["RS256"], leeway_seconds=0)


def verify(token: str) -> Any:
    return asyncio.run(verifier().verify(token))


def reason_of(token: str) -> str:
    with pytest.raises(Unauthenticated) as info:
        verify(token)
    return info.value.reason


def test_valid_token_gives_principal_with_jurisdiction_roles_and_own_workspaces() -> None:
    p = verify(sign(claims()))
    assert p.jurisdiction == "NL"
    assert p.roles == frozenset({"prosecutor"})
    # Membership counts only in groups of the user's own jurisdiction.
    assert p.workspaces == frozenset({"jit-demo"})


def test_expired_token_is_refused() -> None:
    now = int(time.time())
    assert reason_of(sign(claims(iat=now - 900, exp=now - 600))) == "TOKEN_EXPIRED"


def test_wrong_audience_is_refused() -> None:
    assert reason_of(sign(claims(aud=["account"]))) == "WRONG_AUDIENCE"


def test_wrong_issuer_is_refused() -> None:
    assert reason_of(sign(claims(iss="http://127.0.0.1:8080/realms/other"))) == "WRONG_ISSUER"


def test_foreign_signature_is_refused() -> None:
    assert reason_of(sign(claims(), key=FOREIGN_KEY)) == "BAD_SIGNATURE"


def test_alg_none_is_refused() -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "realm-key"}).encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    assert reason_of((header + b"." + body + b".").decode()) == "ALGORITHM_NOT_ALLOWED"


def test_hmac_signed_with_public_key_is_refused() -> None:
    # The classic key-confusion attack: HS256 "signed" with the public key's bytes.
    token = jwt.api_jws.PyJWS().encode(
        json.dumps(claims()).encode(), key="public-key-bytes-" * 4, algorithm="HS256", headers={"kid": "realm-key"}
    )
    assert reason_of(token) == "ALGORITHM_NOT_ALLOWED"


def test_unknown_key_id_is_refused_when_refresh_finds_nothing() -> None:
    assert reason_of(sign(claims(), kid="rotated-away")) in {"UNKNOWN_KEY", "JWKS_UNAVAILABLE"}


def test_token_without_jurisdiction_is_refused() -> None:
    payload = claims()
    del payload["jurisdiction"]
    assert reason_of(sign(payload)) == "NO_JURISDICTION"


def test_garbage_is_refused() -> None:
    assert reason_of("not-a-jwt") == "MALFORMED_TOKEN"


def test_unknown_kid_triggers_one_jwks_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    new_key, new_jwk = _keypair("rotated-in")
    cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=0)
    cache.set_keys({"keys": [REALM_JWK]})
    calls = []

    async def fake_refresh() -> None:
        calls.append(1)
        cache.set_keys({"keys": [REALM_JWK, new_jwk]})

    monkeypatch.setattr(cache, "_refresh", fake_refresh)
    v = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=cache, algorithms=["RS256"])
    p = asyncio.run(v.verify(sign(claims(), key=new_key, kid="rotated-in")))
    assert p.username == "nl-prosecutor"
    assert calls == [1]


@pytest.mark.parametrize("typ", ["ID", "Refresh", "Logout", None])
def test_a_token_that_is_not_an_access_token_is_refused(typ: str | None) -> None:
    """An ID or refresh token signed by the same realm key carries the same audience mappers."""
    payload = claims(typ=typ) if typ else {k: v for k, v in claims().items() if k != "typ"}
    assert reason_of(sign(payload)) == "WRONG_TOKEN_TYPE"


@pytest.mark.parametrize("azp", ["a-client-added-later", "", None])
def test_a_token_issued_to_a_client_not_on_the_allow_list_is_refused(azp: str | None) -> None:
    payload = claims(azp=azp) if azp is not None else {k: v for k, v in claims().items() if k != "azp"}
    assert reason_of(sign(payload)) == "CLIENT_NOT_ALLOWED"


def test_the_allow_list_of_clients_is_a_setting() -> None:
    cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=3600)
    cache.set_keys({"keys": [REALM_JWK]})
    console = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=cache, clients=["jit-cli", "jit-console"])
    assert asyncio.run(console.verify(sign(claims(azp="jit-console")))).jurisdiction == "NL"
    with pytest.raises(ValueError):
        TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=cache, clients=[])


# -- identity per country (per-country nodes) -------------------------------------------------------------
NL_ISSUER, DE_ISSUER = "http://127.0.0.1:8080/realms/jit-nl", "http://127.0.0.1:8080/realms/jit-de"
NL_KEY, NL_JWK = _keypair("nl-key")
DE_KEY, DE_JWK = _keypair("de-key")


def country_verifier() -> TokenVerifier:
    from jitlib.auth import TrustedIssuer

    def cache(jwk: dict[str, Any]) -> JwksCache:
        c = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=3600)
        c.set_keys({"keys": [jwk]})
        return c

    return TokenVerifier(
        audience=AUDIENCE,
        trusted=[TrustedIssuer(NL_ISSUER, cache(NL_JWK), "NL"), TrustedIssuer(DE_ISSUER, cache(DE_JWK), "DE")],
        leeway_seconds=0,
    )


def country_reason(token: str) -> str:
    with pytest.raises(Unauthenticated) as info:
        asyncio.run(country_verifier().verify(token))
    return info.value.reason


def test_each_countrys_realm_vouches_for_its_own_users() -> None:
    nl = asyncio.run(country_verifier().verify(sign(claims(iss=NL_ISSUER), NL_KEY, "nl-key")))
    de = asyncio.run(country_verifier().verify(sign(claims(iss=DE_ISSUER, jurisdiction="DE"), DE_KEY, "de-key")))
    assert (nl.jurisdiction, de.jurisdiction) == ("NL", "DE")


def test_a_token_from_des_realm_claiming_nl_is_refused() -> None:
    assert country_reason(sign(claims(iss=DE_ISSUER, jurisdiction="NL"), DE_KEY, "de-key")) == (
        "ISSUER_JURISDICTION_MISMATCH"
    )


def test_a_token_naming_nls_realm_but_signed_with_des_key_is_refused() -> None:
    # The issuer decides which keys verify the signature: naming another realm does not borrow its trust.
    assert country_reason(sign(claims(iss=NL_ISSUER), DE_KEY, "nl-key")) == "BAD_SIGNATURE"


def test_a_token_from_an_unknown_realm_is_refused() -> None:
    assert country_reason(
        sign(claims(iss="http://127.0.0.1:8080/realms/jit-fr", jurisdiction="FR"), NL_KEY, "nl-key")
    ) == ("WRONG_ISSUER")


def test_issuers_are_configured_per_jurisdiction() -> None:
    from jitlib.config import CommonSettings

    assert CommonSettings(oidc_issuers="").issuers() == [(None, CommonSettings().oidc_issuer)]
    assert CommonSettings(oidc_issuers=f"NL={NL_ISSUER}, DE={DE_ISSUER}").issuers() == [
        ("NL", NL_ISSUER),
        ("DE", DE_ISSUER),
    ]
    with pytest.raises(ValueError):
        CommonSettings(oidc_issuers="nl-realm").issuers()


def test_the_principal_knows_when_its_token_expires() -> None:
    from datetime import UTC, datetime

    exp = int(time.time()) + 120
    p = verify(sign(claims(exp=exp)))
    assert p.expires_at == datetime.fromtimestamp(exp, tz=UTC)
