"""The processes a benchmark measures: a bare grpc.aio echo server (the floor) and the tasks service
with a benchmark signing key. Each runs in its own process, like in production."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import grpc


async def serve_echo(port: int) -> None:
    async def echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo",
        {"Echo": grpc.unary_unary_rpc_method_handler(echo)},  # bytes in, bytes out
    )
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


async def serve_tasks(port: int, db_url: str, nats_url: str, jwks: dict, issuer: str, state: Path) -> None:
    from jitlib.auth import JwksCache, TokenVerifier
    from jitlib.config import CommonSettings
    from jitlib.server import ServiceApp
    from services.tasks.app import TasksSettings, spec

    cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=1e9)
    cache.set_keys(jwks)
    verifier = TokenVerifier(issuer=issuer, audience="jit-services", jwks=cache, algorithms=["RS256"])
    common = CommonSettings(nats_url=nats_url, oidc_issuer=issuer, state_dir=state)
    app = ServiceApp(spec(), TasksSettings(listen=f"127.0.0.1:{port}", database_url=db_url), common, verifier=verifier)
    await app.run_until_signalled()


async def serve_messaging(port: int, db_url: str, nats_url: str, jwks: dict, issuer: str, state: Path) -> None:
    from jitlib.auth import JwksCache, TokenVerifier
    from jitlib.config import CommonSettings
    from jitlib.server import ServiceApp
    from services.messaging.app import MessagingSettings, spec

    cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=1e9)
    cache.set_keys(jwks)
    verifier = TokenVerifier(issuer=issuer, audience="jit-services", jwks=cache, algorithms=["RS256"])
    common = CommonSettings(nats_url=nats_url, oidc_issuer=issuer, state_dir=state)
    settings = MessagingSettings(listen=f"127.0.0.1:{port}", database_url=db_url)
    app = ServiceApp(spec(settings), settings, common, verifier=verifier)
    await app.run_until_signalled()


async def serve_victims(port: int, db_url: str, nats_url: str, jwks: dict, issuer: str, state: Path) -> None:
    from jitlib.auth import JwksCache, TokenVerifier
    from jitlib.config import CommonSettings
    from jitlib.server import ServiceApp
    from services.victims.app import VictimsSettings, spec

    cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=1e9)
    cache.set_keys(jwks)
    verifier = TokenVerifier(issuer=issuer, audience="jit-services", jwks=cache, algorithms=["RS256"])
    common = CommonSettings(nats_url=nats_url, oidc_issuer=issuer, state_dir=state)
    settings = VictimsSettings(listen=f"127.0.0.1:{port}", database_url=db_url)
    app = ServiceApp(spec(settings), settings, common, verifier=verifier)
    await app.run_until_signalled()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["echo", "tasks", "messaging", "victims"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", default="")
    p.add_argument("--nats", default="")
    p.add_argument("--jwks", type=Path)
    p.add_argument("--issuer", default="")
    a = p.parse_args()
    if a.kind == "echo":
        asyncio.run(serve_echo(a.port))
    elif a.kind == "victims":
        asyncio.run(serve_victims(a.port, a.db, a.nats, json.loads(a.jwks.read_text()), a.issuer, a.jwks.parent))
    elif a.kind == "messaging":
        asyncio.run(serve_messaging(a.port, a.db, a.nats, json.loads(a.jwks.read_text()), a.issuer, a.jwks.parent))
    else:
        asyncio.run(serve_tasks(a.port, a.db, a.nats, json.loads(a.jwks.read_text()), a.issuer, a.jwks.parent))


if __name__ == "__main__":
    main()
