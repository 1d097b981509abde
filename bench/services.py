"""The four services a case moves through (tasks, evidence, preservation, messaging), each run for a
benchmark in its own process as in production, with the benchmark's signing key as the realm's JWKS and
the node's key-encryption key in ``<state>/kek.b64`` (the file a local node uses): a benchmark that seeds
rows itself seals them under the same key the service opens them with.

    python -m bench.services <name> --port N --db URL --nats URL --jwks <state>/jwks.json --issuer URL
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("tasks", "evidence", "preservation", "messaging")


class Realm:
    """The benchmark's stand-in for Keycloak: one RSA key, its public half written as the JWKS the services
    trust, and RS256 access tokens with the claims a Keycloak token carries (as ``bench.run.make_key``'s,
    for any user of any member jurisdiction and role)."""

    def __init__(self, folder: Path, issuer: str) -> None:
        import jwt
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.issuer = issuer
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": "bench", "use": "sig", "alg": "RS256"})
        self.jwks = folder / "jwks.json"
        self.jwks.write_text(json.dumps({"keys": [jwk]}))

    def token(self, jurisdiction: str, role: str, workspace: str = "jit-bench", hours: float = 2) -> str:
        import time

        import jwt

        now = int(time.time())
        user = f"bench-{jurisdiction.lower()}-{role}"
        claims = {
            "iss": self.issuer,
            "typ": "Bearer",
            "azp": "jit-cli",
            "aud": "jit-services",
            "sub": user,
            "preferred_username": user,
            "iat": now,
            "exp": now + int(hours * 3600),
            "jurisdiction": jurisdiction,
            "realm_access": {"roles": [role]},
            "groups": [f"/workspaces/{workspace}/{jurisdiction}"],
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "bench"})


def settings_and_spec(name: str, port: int, db_url: str, state: Path) -> tuple[Any, Any]:
    """The service's settings (listening on ``port``, on ``db_url``, blobs under ``state``) and its spec."""
    listen = f"127.0.0.1:{port}"
    if name == "tasks":
        from services.tasks.app import TasksSettings
        from services.tasks.app import spec as tasks_spec

        tasks = TasksSettings(listen=listen, database_url=db_url)
        return tasks, tasks_spec(tasks)
    if name == "evidence":
        from services.evidence.app import EvidenceSettings
        from services.evidence.app import spec as evidence_spec

        evidence = EvidenceSettings(listen=listen, database_url=db_url, blob_dir=str(state / "evidence-blobs"))
        return evidence, evidence_spec(evidence)
    if name == "preservation":
        from services.preservation.app import PreservationSettings
        from services.preservation.app import spec as preservation_spec

        preservation = PreservationSettings(listen=listen, database_url=db_url)
        return preservation, preservation_spec(preservation)
    from services.messaging.app import MessagingSettings
    from services.messaging.app import spec as messaging_spec

    messaging = MessagingSettings(listen=listen, database_url=db_url, blob_dir=state / "messaging-blobs")
    return messaging, messaging_spec(messaging)


async def serve(
    name: str, port: int, db_url: str, nats_url: str, jwks: dict[str, Any], issuer: str, state: Path
) -> None:
    from jitlib.auth import JwksCache, TokenVerifier
    from jitlib.config import CommonSettings
    from jitlib.server import ServiceApp

    cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=1e9)
    cache.set_keys(jwks)
    verifier = TokenVerifier(issuer=issuer, audience="jit-services", jwks=cache, algorithms=["RS256"])
    common = CommonSettings(nats_url=nats_url, oidc_issuer=issuer, state_dir=state)
    settings, spec = settings_and_spec(name, port, db_url, state)
    await ServiceApp(spec, settings, common, verifier=verifier).run_until_signalled()


def start(
    name: str,
    port: int,
    db_url: str,
    nats_url: str,
    jwks: Path,
    issuer: str,
    log: Path,
    *,
    profile: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start the service ``name`` in a process of its own; its state (KEK, blobs) is ``jwks``'s folder.
    ``profile``: run it under pyinstrument, its report written there when it stops."""
    from jitdev.procs import spawn

    args = ["--port", str(port), "--db", db_url, "--nats", nats_url, "--jwks", str(jwks), "--issuer", issuer]
    if profile is not None:
        args += ["--profile", str(profile)]
    return spawn([sys.executable, "-m", "bench.services", name, *args], log, cwd=ROOT)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("name", choices=NAMES)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--nats", required=True)
    p.add_argument("--jwks", type=Path, required=True)
    p.add_argument("--issuer", required=True)
    p.add_argument("--profile", type=Path, help="profile the service with pyinstrument; its report goes here at exit")
    a = p.parse_args()
    from bench.servers import run

    run(serve(a.name, a.port, a.db, a.nats, json.loads(a.jwks.read_text()), a.issuer, a.jwks.parent), a.profile)


if __name__ == "__main__":
    main()
