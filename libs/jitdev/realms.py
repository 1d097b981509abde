"""One identity realm per country, for running per-country nodes locally.

In production each country runs its own Keycloak; locally one Keycloak serves a realm per country
(``jit-nl``, ``jit-de``, ...). Each is derived from the demo realm (``deploy/keycloak/realm-jit.json``):
the same roles, client, claims scope, flows and user profile, but only that country's demo users and, in
each workspace, only that country's membership group. A node then trusts each realm for its own country
only (``JIT_OIDC_ISSUERS``).
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from jitdev.keycloak import DEFAULT_REALM_FILE

#: Namespace of the ids a derived realm gets in place of the demo realm's (Keycloak ids are global).
_IDS = uuid.UUID("0b5c7f3e-6f0e-4a3c-9a51-2d4c8b1e7f10")


def realm_name(country: str) -> str:
    return f"jit-{country.lower()}"


def country_realm(country: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The realm of ``country``'s node, derived from the demo realm (or ``base``)."""
    realm = copy.deepcopy(base if base is not None else json.loads(Path(DEFAULT_REALM_FILE).read_text()))
    name = realm_name(country)
    realm["realm"] = name
    realm["displayName"] = f"JIT platform, {country} (DEMO ONLY local realm)"
    realm["users"] = [u for u in realm.get("users", []) if _jurisdiction(u) == country]
    for top in realm.get("groups", []):
        for workspace in top.get("subGroups", []):
            workspace["subGroups"] = [g for g in workspace.get("subGroups", []) if g.get("name") == country]
    # Keycloak ids are unique across realms: give each explicit id a new one, derived from the country so
    # that a reference to it (a client's flow override) follows.
    renamed = {old: str(uuid.uuid5(_IDS, f"{country}:{old}")) for old in _explicit_ids(realm)}
    text = json.dumps(realm)
    for old, new in renamed.items():
        text = text.replace(old, new)
    return json.loads(text)  # type: ignore[no-any-return]


def _jurisdiction(user: dict[str, Any]) -> str:
    values = (user.get("attributes") or {}).get("jurisdiction") or [""]
    return str(values[0])


def _explicit_ids(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("id"), str):
            found.add(node["id"])
        for value in node.values():
            found |= _explicit_ids(value)
    elif isinstance(node, list):
        for value in node:
            found |= _explicit_ids(value)
    return found


def demo_client_secret(client_id: str) -> str:
    """The DEMO-ONLY secret a confidential client has in the demo realm file (the local console's)."""
    realm = json.loads(Path(DEFAULT_REALM_FILE).read_text())
    client = next((c for c in realm.get("clients", []) if c.get("clientId") == client_id), None)
    if client is None or not client.get("secret"):
        raise KeyError(f"the demo realm has no confidential client {client_id!r}")
    return str(client["secret"])
