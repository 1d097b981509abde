"""Integration tests of the ``jit`` realm (deploy/keycloak/realm-jit.json) and of
workspace provisioning (libs/jitcli/kcadmin.py) against a real local Keycloak.

Needs the session fixture ``keycloak`` (a started :class:`jitdev.keycloak.KeycloakInstance`,
from ``running_keycloak("test")``), provided by tests/conftest.py.
"""

from __future__ import annotations

import concurrent.futures
import re
import time
import uuid
from typing import Any

import httpx
import jwt
import pytest

from jitcli import kcadmin
from jitcli.kcadmin import WorkspaceAdminError
from jitdev.keycloak import KeycloakInstance, KeycloakTokenError
from tests.conftest import Tokens

pytestmark = pytest.mark.integration

DEMO_USERS = {
    # username: (jurisdiction, role, workspace group or None)
    "nl-prosecutor": ("NL", "prosecutor", "/workspaces/jit-demo/NL"),
    "nl-liaison": ("NL", "police_liaison", "/workspaces/jit-demo/NL"),
    "de-prosecutor": ("DE", "prosecutor", "/workspaces/jit-demo/DE"),
    "de-liaison": ("DE", "police_liaison", "/workspaces/jit-demo/DE"),
    "ie-prosecutor": ("IE", "prosecutor", "/workspaces/jit-demo/IE"),
    "ie-liaison": ("IE", "police_liaison", "/workspaces/jit-demo/IE"),
    "fr-prosecutor": ("FR", "prosecutor", None),
    "eurojust-analyst": ("EUROJUST", "participant", "/workspaces/jit-demo/EUROJUST"),
    "nl-operator": ("NL", "operator", None),
    "nl-auditor": ("NL", "auditor", None),
}


def access_claims(kc: KeycloakInstance, username: str) -> dict[str, Any]:
    """Password-grant an access token for a demo user and decode it (no signature check)."""
    token = kc.password_token(username)
    return jwt.decode(token["access_token"], options={"verify_signature": False})


@pytest.fixture(scope="module")
def admin(keycloak: KeycloakInstance):
    return kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)


# ---------------------------------------------------------------- tokens


def test_nl_prosecutor_access_token(keycloak: KeycloakInstance) -> None:
    claims = access_claims(keycloak, "nl-prosecutor")
    assert claims["iss"] == keycloak.issuer
    assert keycloak.issuer == f"{keycloak.base_url}/realms/jit"
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    assert "jit-services" in aud
    assert claims["jurisdiction"] == "NL"
    assert "prosecutor" in claims["realm_access"]["roles"]
    assert "demo_user" in claims["realm_access"]["roles"]
    assert "/workspaces/jit-demo/NL" in claims["groups"]
    assert claims["preferred_username"] == "nl-prosecutor"
    assert claims["azp"] == "jit-cli"
    assert claims["sub"]
    assert claims["exp"] - claims["iat"] == 300


def test_access_token_signature_verifies_with_jwks(keycloak: KeycloakInstance) -> None:
    token = keycloak.password_token("de-prosecutor")["access_token"]
    key = jwt.PyJWKClient(keycloak.jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(token, key.key, algorithms=["RS256"], audience="jit-services", issuer=keycloak.issuer)
    assert claims["jurisdiction"] == "DE"


@pytest.mark.parametrize("username", sorted(DEMO_USERS))
def test_demo_users_claims(keycloak: KeycloakInstance, username: str) -> None:
    jurisdiction, role, group = DEMO_USERS[username]
    claims = access_claims(keycloak, username)
    assert claims["jurisdiction"] == jurisdiction
    assert role in claims["realm_access"]["roles"]
    assert "demo_user" in claims["realm_access"]["roles"]
    # Only the demo workspace is checked: other tests (the end-to-end demo) open workspaces of their own.
    demo_groups = [g for g in claims.get("groups", []) if g.startswith("/workspaces/jit-demo/")]
    assert demo_groups == ([group] if group else [])


def test_fr_prosecutor_has_no_workspace_group(keycloak: KeycloakInstance) -> None:
    claims = access_claims(keycloak, "fr-prosecutor")
    assert claims["jurisdiction"] == "FR"
    assert not [g for g in claims.get("groups", []) if g.startswith("/workspaces")]


def test_demo_attributes_are_declared_in_user_profile(admin) -> None:
    """Undeclared attributes would be dropped silently; both must survive the import."""
    (user,) = admin.get_users({"username": "nl-prosecutor", "exact": "true"})
    assert user["attributes"]["jurisdiction"] == ["NL"]
    assert user["attributes"]["demo_account"] == ["true"]


# ----------------------------------------------------------- refusals


def test_password_grant_refuses_non_demo_user(keycloak: KeycloakInstance, admin) -> None:
    # nl-realuser exists, is enabled and has password "demo", but lacks realm role demo_user.
    (user,) = admin.get_users({"username": "nl-realuser", "exact": "true"})
    assert user["enabled"] is True
    roles = {r["name"] for r in admin.get_realm_roles_of_user(user["id"])}
    assert "prosecutor" in roles and "demo_user" not in roles

    with pytest.raises(KeycloakTokenError) as info:
        keycloak.password_token("nl-realuser", "demo")
    # Refused by the "Deny access" step of the demo-only direct grant flow, once the password matched.
    assert info.value.status_code == 401
    assert info.value.error == "access_denied"
    assert "DEMO" in (info.value.error_description or "")


@pytest.mark.usefixtures("forgets_failed_logins")
def test_password_grant_refuses_wrong_password(keycloak: KeycloakInstance) -> None:
    with pytest.raises(KeycloakTokenError) as info:
        keycloak.password_token("de-liaison", "not-the-demo-password")
    assert info.value.status_code == 400
    assert info.value.error == "invalid_grant"


@pytest.mark.usefixtures("forgets_failed_logins")
def test_a_users_concurrent_logins_are_refused_so_the_suites_tokens_log_in_one_at_a_time(
    keycloak: KeycloakInstance,
) -> None:
    """Brute-force detection refuses a user's concurrent logins, good password or not ("Invalid user
    credentials"): the suite's ``Tokens``, shared by a test's threads, logs a user in once when their token
    is near expiry, the threads waiting for it, not each on its own."""

    def login(_: int) -> str:
        try:
            return str(keycloak.password_token("ie-liaison", "demo")["access_token"])
        except KeycloakTokenError as exc:
            return exc.error or "refused"

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(login, range(8)))
    assert "invalid_grant" in answers  # Keycloak's rule, which the suite's threads must not run into
    kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password).clear_all_bruteforce_attempts()

    tokens = Tokens(keycloak)
    tokens._cache["ie-liaison"] = ("near-expiry", time.time() + 29)  # within the 30 s it renews before
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda _: tokens("ie-liaison"), range(8)))
    assert len(set(got)) == 1 and got[0] != "near-expiry"


def test_password_grant_refuses_unknown_user(keycloak: KeycloakInstance) -> None:
    with pytest.raises(KeycloakTokenError) as info:
        keycloak.password_token("no-such-user", "demo")
    assert info.value.error == "invalid_grant"


def test_device_authorization_endpoint(keycloak: KeycloakInstance) -> None:
    resp = httpx.post(keycloak.device_auth_url, data={"client_id": "jit-cli"}, timeout=30)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["device_code"]
    assert re.fullmatch(r"[A-Z]{4}-[A-Z]{4}", body["user_code"])
    assert body["verification_uri"].startswith(keycloak.issuer)
    assert body["interval"] >= 1 and body["expires_in"] > 0

    # Polling before the user approved must say "authorization_pending".
    poll = httpx.post(
        keycloak.token_url,
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": "jit-cli",
            "device_code": body["device_code"],
        },
        timeout=30,
    )
    assert poll.status_code == 400
    assert poll.json()["error"] == "authorization_pending"


# ---------------------------------------------------------- workspaces


def test_demo_workspace_metadata(admin) -> None:
    ws = kcadmin.get_workspace(admin, "jit-demo")
    assert ws.id == "jit-demo"
    assert ws.name == "JIT demo: online harassment NL-DE-IE"
    assert ws.lead == "NL"
    assert ws.legal_basis == "FD 2002/465/JHA; EU MLA Convention Art. 13"
    assert (ws.starts_on, ws.ends_on) == ("2026-01-15", "2029-01-15")
    assert ws.status == "open"
    assert ws.members == ["NL", "DE", "IE", "EUROJUST"]
    assert ws.version == 1


def test_workspace_round_trip(keycloak: KeycloakInstance, admin) -> None:
    ws_id = f"test-{uuid.uuid4().hex[:10]}"
    ws = kcadmin.create_workspace(
        admin,
        ws_id,
        name="Integration test workspace",
        lead="NL",
        members=["NL", "DE"],
        legal_basis="FD 2002/465/JHA",
        starts_on="2026-02-01",
        ends_on="2026-12-31",
    )
    assert (ws.id, ws.status, ws.version, ws.members, ws.lead) == (ws_id, "open", 1, ["NL", "DE"], "NL")
    assert kcadmin.get_workspace(admin, ws_id) == ws
    assert {c["name"] for c in admin.get_group_children(ws.group_id)} == {"NL", "DE"}

    with pytest.raises(WorkspaceAdminError, match="already exists"):
        kcadmin.create_workspace(admin, ws_id, "dup", "NL", ["NL"], "x", "2026-01-01", "2026-02-01")

    # A user may only join the subgroup of their own jurisdiction.
    with pytest.raises(WorkspaceAdminError, match="jurisdiction"):
        kcadmin.add_member(admin, ws_id, "IE", ["de-prosecutor"])
    with pytest.raises(WorkspaceAdminError, match="unknown user"):
        kcadmin.add_member(admin, ws_id, "IE", ["nobody-here"])

    ws = kcadmin.add_member(admin, ws_id, "IE", ["ie-liaison"])
    assert ws.members == ["NL", "DE", "IE"]
    assert ws.version == 2
    claims = access_claims(keycloak, "ie-liaison")
    assert f"/workspaces/{ws_id}/IE" in claims["groups"]
    assert "/workspaces/jit-demo/IE" in claims["groups"]

    ws = kcadmin.add_member(admin, ws_id, "NL", ["nl-liaison"])
    assert ws.members == ["NL", "DE", "IE"] and ws.version == 3
    assert f"/workspaces/{ws_id}/NL" in access_claims(keycloak, "nl-liaison")["groups"]

    listed = {w.id: w for w in kcadmin.list_workspaces(admin)}
    assert {"jit-demo", ws_id} <= set(listed)
    assert listed[ws_id] == ws

    closed = kcadmin.close_workspace(admin, ws_id)
    assert closed.status == "closed"
    assert closed.version == 4
    assert closed.closed_at and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", closed.closed_at)
    assert {w.id: w for w in kcadmin.list_workspaces(admin)}[ws_id].status == "closed"

    with pytest.raises(WorkspaceAdminError, match="closed"):
        kcadmin.add_member(admin, ws_id, "DE", ["de-liaison"])
    with pytest.raises(WorkspaceAdminError, match="already closed"):
        kcadmin.close_workspace(admin, ws_id)


@pytest.mark.parametrize("bad_id", ["Bad_ID", "ab", "-leading-dash", "x" * 64, "jit demo", "ümlaut-ws"])
def test_bad_workspace_id_is_refused(admin, bad_id: str) -> None:
    with pytest.raises(WorkspaceAdminError, match="invalid workspace id"):
        kcadmin.create_workspace(admin, bad_id, "n", "NL", ["NL"], "basis", "2026-01-01", "2026-02-01")


@pytest.mark.parametrize("bad_code", ["NLD", "nl", "N1", "", "EUROJUSTICE", "E U"])
def test_bad_jurisdiction_code_is_refused(admin, bad_code: str) -> None:
    with pytest.raises(WorkspaceAdminError, match="invalid jurisdiction code"):
        kcadmin.create_workspace(admin, "bad-code-ws", "n", "NL", ["NL", bad_code], "b", "2026-01-01", "2026-02-01")
    with pytest.raises(WorkspaceAdminError, match="invalid jurisdiction code"):
        kcadmin.add_member(admin, "jit-demo", bad_code, [])


def test_workspace_input_checks(admin) -> None:
    with pytest.raises(WorkspaceAdminError, match="lead"):
        kcadmin.create_workspace(admin, "lead-not-member", "n", "FR", ["NL", "DE"], "b", "2026-01-01", "2026-02-01")
    with pytest.raises(WorkspaceAdminError, match="before"):
        kcadmin.create_workspace(admin, "dates-reversed", "n", "NL", ["NL"], "b", "2026-03-01", "2026-02-01")
    with pytest.raises(WorkspaceAdminError, match="unknown workspace"):
        kcadmin.get_workspace(admin, "no-such-workspace")
    with pytest.raises(WorkspaceAdminError, match="unknown workspace"):
        kcadmin.add_member(admin, "no-such-workspace", "NL", ["nl-prosecutor"])
    with pytest.raises(WorkspaceAdminError, match="unknown workspace"):
        kcadmin.close_workspace(admin, "no-such-workspace")
    assert "lead-not-member" not in {w.id for w in kcadmin.list_workspaces(admin)}


def test_connect_with_wrong_admin_password_fails(keycloak: KeycloakInstance) -> None:
    with pytest.raises(WorkspaceAdminError, match="connecting to Keycloak"):
        kcadmin.connect(keycloak.base_url, keycloak.admin_user, "wrong-password")


# ------------------------------------------------------ no account enumeration, tokens bound to clients


@pytest.mark.parametrize(
    "login",
    ["nl-realuser", "nl-realuser@demo.invalid", "no-such-user", "no-such-user@demo.invalid", "de-liaison"],
)
@pytest.mark.usefixtures("forgets_failed_logins")
def test_a_wrong_password_gets_one_answer_whoever_the_account_is(keycloak: KeycloakInstance, login: str) -> None:
    """Real account, demo account or no account, by username or e-mail: a wrong password is answered
    the same, so the password grant tells nobody which accounts are real (the password is checked
    before the demo-only rule, and counts towards brute-force detection)."""
    with pytest.raises(KeycloakTokenError) as info:
        keycloak.password_token(login, "not-the-password")
    assert (info.value.status_code, info.value.error, info.value.error_description) == (
        400,
        "invalid_grant",
        "Invalid user credentials",
    )


def _verifier(keycloak: KeycloakInstance) -> Any:
    from jitlib.auth import JwksCache, TokenVerifier

    return TokenVerifier(issuer=keycloak.issuer, audience="jit-services", jwks=JwksCache(keycloak.jwks_url))


def test_jit_cli_tokens_are_access_tokens_of_an_allowed_client(keycloak: KeycloakInstance) -> None:
    import asyncio

    token = keycloak.password_token("nl-prosecutor")["access_token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["typ"], claims["azp"]) == ("Bearer", "jit-cli")
    assert asyncio.run(_verifier(keycloak).verify(token)).jurisdiction == "NL"


def test_a_client_added_to_the_realm_later_gets_no_access(keycloak: KeycloakInstance, admin) -> None:
    """The platform's claims are assigned per client, not as a realm default; and even a client given
    them is refused until a node lists it (oidc_clients)."""
    import asyncio

    from jitlib.errors import Unauthenticated

    client_id = f"later-{uuid.uuid4().hex[:8]}"
    internal = admin.create_client(
        {"clientId": client_id, "publicClient": True, "directAccessGrantsEnabled": True, "standardFlowEnabled": False}
    )
    try:
        token = keycloak.password_token("nl-prosecutor", client_id=client_id)["access_token"]
        claims = jwt.decode(token, options={"verify_signature": False})
        assert "jurisdiction" not in claims and "jit-services" not in (claims.get("aud") or [])
        with pytest.raises(Unauthenticated):
            asyncio.run(_verifier(keycloak).verify(token))

        scope = next(s for s in admin.get_client_scopes() if s["name"] == "jit-claims")
        admin.add_client_default_client_scope(internal, scope["id"], {})
        token = keycloak.password_token("nl-prosecutor", client_id=client_id)["access_token"]
        assert jwt.decode(token, options={"verify_signature": False})["jurisdiction"] == "NL"
        with pytest.raises(Unauthenticated) as info:
            asyncio.run(_verifier(keycloak).verify(token))
        assert info.value.reason == "CLIENT_NOT_ALLOWED"
    finally:
        admin.delete_client(internal)
