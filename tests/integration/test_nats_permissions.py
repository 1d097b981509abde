"""NATS authentication and authorization on a node (issue 14), against a real nats-server configured from
``jitlib.natsauth``: a client without credentials or with a wrong password is refused; each client (every
service, ``jit admin``) may publish its own subjects and read the streams it consumes, and the broker
refuses it another service's subjects, streams and inbox; the suite's own services connect as their own
users."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
import pytest
from nats.aio.client import Client as NatsClient
from pydantic import SecretStr

from jitdev.nats import NatsInstance
from jitlib.bus import ensure_stream, stream_for
from jitlib.natsauth import CLIENTS, Credentials, NodeUsers
from tests.conftest import authenticated_nats

pytestmark = pytest.mark.integration

SERVICES = [c for c in CLIENTS if c.service]
#: Every event domain a node has, with the client that owns it.
OWNER = {d: c.name for c in CLIENTS for d in c.publishes if not d.startswith("peers.")}


@pytest.fixture(scope="module")
def broker(nats_users: NodeUsers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsInstance]:
    """A node's NATS of this module's own (what it publishes stays out of the suite's streams)."""
    inst = authenticated_nats(tmp_path_factory.mktemp("nats-permissions"), nats_users).start()
    # Each domain's stream, made by its owner with its own credentials, with one event in it.
    asyncio.run(_seed(inst, nats_users))
    yield inst
    inst.stop()


class Session:
    """One client's connection, and the errors the broker sent it (permission violations)."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self._arrived = asyncio.Event()
        self.nc: NatsClient | None = None

    async def open(self, url: str, credentials: Credentials) -> Session:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc).lower())
            self._arrived.set()

        self.nc = await nats.connect(
            url, error_cb=on_error, allow_reconnect=False, connect_timeout=5, **credentials.connect_options()
        )
        return self

    async def violation(self, *fragments: str) -> str:
        """The broker's refusal naming all ``fragments`` (waits for it, bounded)."""
        want = [f.lower() for f in fragments]

        async def found() -> str:
            while True:
                for err in self.errors:
                    if "permissions violation" in err and all(f in err for f in want):
                        return err
                self._arrived.clear()
                await self._arrived.wait()

        return await asyncio.wait_for(found(), timeout=15)

    async def close(self) -> None:
        if self.nc is not None:
            await self.nc.close()


async def _session(broker: NatsInstance, credentials: Credentials) -> Session:
    return await Session().open(broker.address, credentials)


async def _seed(broker: NatsInstance, users: NodeUsers) -> None:
    for event_domain, owner in OWNER.items():
        s = await _session(broker, users.credentials(owner))
        try:
            js = s.nc.jetstream(timeout=5)  # type: ignore[union-attr]
            await ensure_stream(js, stream_for(event_domain))
            await js.publish(f"jit.{event_domain}.NL.seeded", b"seed")
        finally:
            await s.close()


def test_the_authorization_file_a_node_includes_is_a_valid_server_configuration(
    nats_users: NodeUsers, tmp_path: Path
) -> None:
    """What ``jit node init`` writes for a deployment (``include ./authorization.conf``)."""
    from jitdev.nats import nats_server_binary

    nats_users.write_authorization(tmp_path / "authorization.conf")
    main = tmp_path / "main.conf"
    main.write_text(
        f'listen: "127.0.0.1:4222"\njetstream {{ store_dir: "{tmp_path / "js"}" }}\ninclude ./authorization.conf\n'
    )
    checked = subprocess.run([nats_server_binary(), "-c", str(main), "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "is valid" in checked.stdout + checked.stderr


def test_a_client_without_credentials_is_refused(broker: NatsInstance) -> None:
    async def attempt() -> None:
        await nats.connect(broker.address, allow_reconnect=False, connect_timeout=5)

    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(attempt())


def test_a_wrong_password_is_refused(broker: NatsInstance, nats_users: NodeUsers) -> None:
    real = nats_users.credentials("tasks")
    wrong = Credentials("tasks", SecretStr(real.password.get_secret_value() + "x"))

    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        asyncio.run(_session(broker, wrong))


@pytest.mark.parametrize("name", [c.name for c in CLIENTS if c.publishes])
def test_a_client_publishes_its_own_events_and_is_refused_another_services(
    broker: NatsInstance, nats_users: NodeUsers, name: str
) -> None:
    mine = next(d for c in CLIENTS if c.name == name for d in c.publishes)
    other = next(d for d, owner in OWNER.items() if owner != name)

    async def scenario() -> tuple[Any, str]:
        s = await _session(broker, nats_users.credentials(name))
        try:
            js = s.nc.jetstream(timeout=5)  # type: ignore[union-attr]
            ack = await js.publish(f"jit.{mine}.NL.checked", b"mine")
            await s.nc.publish(f"jit.{other}.NL.forged", b"not mine")  # type: ignore[union-attr]
            return ack, await s.violation("publish", f"jit.{other}.nl.forged")
        finally:
            await s.close()

    ack, refused = asyncio.run(scenario())
    assert ack.stream == f"JIT_{mine.upper()}"
    assert refused


@pytest.mark.parametrize("service", [c.name for c in SERVICES])
def test_a_service_reads_the_streams_it_consumes(broker: NatsInstance, nats_users: NodeUsers, service: str) -> None:
    consumes = next(c.consumes for c in SERVICES if c.name == service)

    async def scenario() -> dict[str, str]:
        s = await _session(broker, nats_users.credentials(service))
        read: dict[str, str] = {}
        try:
            js = s.nc.jetstream(timeout=5)  # type: ignore[union-attr]
            for event_domain in consumes:
                sub = await js.pull_subscribe(
                    f"jit.{event_domain}.>", durable=f"{service}-perm-check", stream=f"JIT_{event_domain.upper()}"
                )
                msg = (await sub.fetch(1, timeout=5))[0]
                await msg.ack()
                read[event_domain] = msg.subject
            assert not s.errors, s.errors
        finally:
            await s.close()
        return read

    assert asyncio.run(scenario()) == {d: f"jit.{d}.NL.seeded" for d in consumes}


def _foreign(service: str) -> list[str]:
    """The other services' domains whose streams ``service`` does not consume."""
    me = next(c for c in SERVICES if c.name == service)
    return [d for d, owner in OWNER.items() if owner not in (service, "admin") and d not in me.consumes]


@pytest.mark.parametrize("service", [c.name for c in SERVICES if _foreign(c.name)])
def test_a_service_is_refused_the_stream_of_a_service_it_does_not_consume(
    broker: NatsInstance, nats_users: NodeUsers, service: str
) -> None:
    foreign = _foreign(service)[0]
    stream = f"JIT_{foreign.upper()}"

    async def scenario() -> tuple[BaseException | None, str, str, str]:
        s = await _session(broker, nats_users.credentials(service))
        try:
            js = s.nc.jetstream(timeout=2)  # type: ignore[union-attr]
            failed: BaseException | None = None
            try:
                await js.pull_subscribe(f"jit.{foreign}.>", durable=f"{service}-snoops", stream=stream)
            except (nats.errors.Error, TimeoutError) as exc:
                failed = exc
            consumer = await s.violation("publish", "$js.api.consumer.", f".{stream}.")
            # Nor by listening on the subjects directly, nor on another client's inbox.
            await s.nc.subscribe(f"jit.{foreign}.>")  # type: ignore[union-attr]
            listen = await s.violation("subscription", f"jit.{foreign}.>")
            await s.nc.subscribe(f"_INBOX.{OWNER[foreign]}.>")  # type: ignore[union-attr]
            inbox = await s.violation("subscription", "_inbox.")
            return failed, consumer, listen, inbox
        finally:
            await s.close()

    failed, consumer, listen, inbox = asyncio.run(scenario())
    assert failed is not None
    assert consumer and listen and inbox


def test_no_client_may_delete_or_purge_a_stream(broker: NatsInstance, nats_users: NodeUsers) -> None:
    async def scenario() -> list[str]:
        s = await _session(broker, nats_users.credentials("tasks"))
        try:
            js = s.nc.jetstream(timeout=2)  # type: ignore[union-attr]
            out = []
            for attempt in (js.purge_stream, js.delete_stream):
                with pytest.raises((nats.errors.Error, TimeoutError)):
                    await attempt("JIT_TASKS")
            out.append(await s.violation("publish", "$js.api.stream.purge.jit_tasks"))
            out.append(await s.violation("publish", "$js.api.stream.delete.jit_tasks"))
            return out
        finally:
            await s.close()

    assert all(asyncio.run(scenario()))


def test_the_admin_tool_announces_workspaces_and_nothing_else(broker: NatsInstance, nats_users: NodeUsers) -> None:
    async def scenario() -> tuple[Any, str, str]:
        s = await _session(broker, nats_users.credentials("admin"))
        try:
            js = s.nc.jetstream(timeout=2)  # type: ignore[union-attr]
            await ensure_stream(js, stream_for("workspaces"))
            ack = await js.publish("jit.workspaces.NL.updated", b"announcement")
            await s.nc.publish("jit.tasks.NL.created", b"forged")  # type: ignore[union-attr]
            publish = await s.violation("publish", "jit.tasks.nl.created")
            with pytest.raises((nats.errors.Error, TimeoutError)):
                await js.pull_subscribe("jit.tasks.>", durable="admin-snoops", stream="JIT_TASKS")
            read = await s.violation("publish", "$js.api.", ".jit_tasks")
            return ack, publish, read
        finally:
            await s.close()

    ack, publish, read = asyncio.run(scenario())
    assert ack.stream == "JIT_WORKSPACES"
    assert publish and read


def test_the_backup_tool_snapshots_and_restores_streams_and_publishes_no_event(
    broker: NatsInstance, nats_users: NodeUsers, tmp_path: Path
) -> None:
    """``jit node backup``/``restore`` as the node's ``backup`` user: what it needs, and no event."""
    from jitcli import jetstream_backup as jsb

    async def scenario() -> tuple[list[str], dict[str, Any], str]:
        s = await _session(broker, nats_users.credentials("backup"))
        try:
            assert s.nc is not None
            names = await jsb.stream_names(s.nc)
            meta = await jsb.snapshot(s.nc, "JIT_EVIDENCE", tmp_path / "evidence.snapshot")
            await jsb.delete_stream(s.nc, "JIT_EVIDENCE")
            restored = await jsb.restore(s.nc, "JIT_EVIDENCE", meta, tmp_path / "evidence.snapshot")
            assert not s.errors, s.errors
            await s.nc.publish("jit.tasks.NL.created", b"forged")
            return names, restored, await s.violation("publish", "jit.tasks.nl.created")
        finally:
            await s.close()

    names, restored, refused = asyncio.run(scenario())
    assert {"JIT_TASKS", "JIT_EVIDENCE", "JIT_WORKSPACES"} <= set(names)
    assert int(restored.get("messages", 0)) >= 1
    assert refused


def test_the_suites_services_connect_to_its_nats_as_their_own_users(
    nats_server: NatsInstance, keycloak: Any, tmp_path: Path
) -> None:
    """The whole node on the suite's NATS: each service is connected as its own user, although the
    suite's URL carries the suite's own credentials, and serves (each service's own tests run on it)."""
    from jitlib.config import CommonSettings
    from tests.harness import start_all_services

    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path)
    running = start_all_services(common, tmp_path, "perm-users")
    try:
        for svc in running.values():
            svc.loop.run(svc.rt.bus.wait_ready(30))
        connz = httpx.get(f"http://127.0.0.1:{nats_server.monitor_port}/connz", params={"auth": 1}, timeout=10)
        users: dict[str, set[str]] = {}
        for conn in connz.json().get("connections", []):
            users.setdefault(conn.get("name", ""), set()).add(conn.get("authorized_user", ""))
    finally:
        for svc in running.values():
            svc.stop()
    assert set(running) == {c.name for c in SERVICES}
    for name in running:
        assert users.get(f"jit-{name}") == {name}
