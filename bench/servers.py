"""The processes a benchmark measures: a bare grpc.aio echo server (the floor) and the tasks service
with a benchmark signing key. Each runs in its own process, like in production."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import grpc

from jitlib.processes import INDEX_ENV


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


def tasks_settings(port: int, db_url: str, nats_url: str, state: Path, processes: int = 1) -> tuple[Any, Any]:
    """The tasks service's settings and the node's, as the benchmark runs it."""
    from jitlib.config import CommonSettings
    from services.tasks.app import TasksSettings

    common = CommonSettings(nats_url=nats_url, state_dir=state)
    # A consumer group per database: each tasks service of a run reads every event (the victims announced)
    # into its own database, as two separate nodes would.
    group = f"tasks-{hashlib.sha256(db_url.encode()).hexdigest()[:8]}"
    settings = TasksSettings(listen=f"127.0.0.1:{port}", database_url=db_url, consumer_group=group, processes=processes)
    return settings, common


async def serve_tasks(
    port: int, db_url: str, nats_url: str, jwks: dict, issuer: str, state: Path, processes: int = 1
) -> None:
    """The tasks service, or with ``processes`` above 1 one copy of it (``JIT_PROCESS_INDEX``)."""
    from jitlib.auth import JwksCache, TokenVerifier
    from jitlib.processes import process_index
    from jitlib.server import ServiceApp
    from services.tasks.app import spec

    cache = JwksCache("http://127.0.0.1:1/unused", min_refresh_seconds=1e9)
    cache.set_keys(jwks)
    verifier = TokenVerifier(issuer=issuer, audience="jit-services", jwks=cache, algorithms=["RS256"])
    settings, common = tasks_settings(port, db_url, nats_url, state, processes)
    common.oidc_issuer = issuer
    app = ServiceApp(spec(), settings, common, verifier=verifier, process_index=process_index())
    await app.run_until_signalled()


def supervise_tasks(port: int, db_url: str, nats_url: str, state: Path, processes: int) -> int:
    """The tasks service as ``processes`` copies on one port, started as its entry point starts them
    (``jitlib.processes``): the database prepared once, then each copy runs this module again."""
    from jitlib.processes import supervise
    from jitlib.server import check_processes, prepare
    from services.tasks.app import spec

    settings, common = tasks_settings(port, db_url, nats_url, state, processes)
    check_processes(spec(), settings)
    prepare(spec(), settings, common)
    return supervise("tasks", [sys.executable, "-m", "bench.servers", *sys.argv[1:]], processes)


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


def run(main_coro: Coroutine[Any, Any, None], profile: Path | None) -> None:
    """Run a server until it stops; with ``profile``, under pyinstrument, its report written there at exit."""
    if profile is None:
        asyncio.run(main_coro)
        return
    from pyinstrument import Profiler

    # Sampled every millisecond across awaits: what the server's event loop spends its time on, the RPCs
    # it serves and the relay alike (a PostgreSQL unit of work runs on a worker thread, not sampled here).
    profiler = Profiler(interval=0.001, async_mode="disabled")
    profiler.start()
    try:
        asyncio.run(main_coro)
    finally:
        profiler.stop()
        profile.write_text(profiler.output_text(unicode=True, show_all=False, color=False))
        # The whole session, for another view: pyinstrument --load=<this> -r text --show-all
        profiler.last_session.save(str(profile.with_suffix(".pyisession")))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("kind", choices=["echo", "tasks", "messaging", "victims"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--db", default="")
    p.add_argument("--nats", default="")
    p.add_argument("--jwks", type=Path)
    p.add_argument("--issuer", default="")
    p.add_argument("--profile", type=Path, help="profile the server with pyinstrument; its report goes here at exit")
    p.add_argument("--processes", type=int, default=1, help="tasks only: copies of the service sharing the port")
    a = p.parse_args()
    index = os.environ.get(INDEX_ENV)
    if a.kind == "tasks" and a.processes > 1 and index is None:
        raise SystemExit(supervise_tasks(a.port, a.db, a.nats, a.jwks.parent, a.processes))
    if a.profile is not None and index is not None:
        a.profile = a.profile.with_name(f"{a.profile.stem}-{index}{a.profile.suffix}")
    if a.kind == "echo":
        main_coro: Coroutine[Any, Any, None] = serve_echo(a.port)
    else:
        serve = {"victims": serve_victims, "messaging": serve_messaging}.get(a.kind)
        jwks = json.loads(a.jwks.read_text())
        if serve is None:
            main_coro = serve_tasks(a.port, a.db, a.nats, jwks, a.issuer, a.jwks.parent, a.processes)
        else:
            main_coro = serve(a.port, a.db, a.nats, jwks, a.issuer, a.jwks.parent)
    run(main_coro, a.profile)


if __name__ == "__main__":
    main()
