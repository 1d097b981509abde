"""`jit node backup` and `jit node restore` on a whole node: the four services on SQLite, and on
PostgreSQL, with a NATS JetStream of the node's own (the suite's Keycloak and PostgreSQL).

The node plays the demo case (records of every kind, an evidence item, messages with an attachment, the
services' reactions to each other's events), is backed up while it runs, with a task written between
the stream snapshot and the databases, changes further, and is restored into a fresh state folder and
a fresh JetStream. Started again, it shows every record, item, message and verified audit chain as
before; the later change is gone; no event is in a stream twice and no consumer processed one twice.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from typer.testing import CliRunner

from jitcli import node_backup
from jitcli.main import app
from jitcli.nodeconf import NodeState
from jitdev.demo import Demo, Result
from jitdev.nats import NatsInstance
from jitdev.procs import free_port
from jitlib.config import CommonSettings
from tests.harness import RunningService, eventually, service_factories, start_service

pytestmark = pytest.mark.integration
RUNNER = CliRunner()


def start_node(common: CommonSettings, urls: dict[str, str], group: str) -> dict[str, RunningService]:
    """The node's four services, each with a fixed consumer group: a restored node must consume under
    the names its inboxes and the restored consumers know."""
    running: dict[str, RunningService] = {}
    try:
        for name, spec_factory, settings_cls in service_factories():
            settings = settings_cls(listen="127.0.0.1:0", database_url=urls[name], consumer_group=f"{group}-{name}")
            try:
                spec = spec_factory(settings)
            except TypeError:
                spec = spec_factory()
            running[name] = start_service(spec, settings, common)
    except BaseException:
        for svc in running.values():
            svc.stop()
        raise
    return running


def stop_node(running: dict[str, RunningService]) -> None:
    for svc in running.values():
        svc.stop()


async def _stream_report(url: str) -> dict[str, Any]:
    """Per stream: its message ids (Counter); per consumer: what it has not finished."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        out: dict[str, Any] = {"ids": {}, "busy": []}
        for info in await js.streams_info():
            name = info.config.name
            ids: Counter[str] = Counter()
            for seq in range(max(info.state.first_seq, 1), info.state.last_seq + 1):  # an empty stream has none
                try:
                    msg = await js.get_msg(name, seq)
                except nats.js.errors.NotFoundError:
                    continue
                ids[(msg.headers or {}).get("Nats-Msg-Id", f"seq-{seq}")] += 1
            out["ids"][name] = ids
            for c in await js.consumers_info(name):
                if c.num_pending or c.num_ack_pending or c.num_redelivered:
                    out["busy"].append(f"{name}/{c.name}")
        return out
    finally:
        await nc.close()


def stream_report(url: str) -> dict[str, Any]:
    return asyncio.run(_stream_report(url))


@dataclass
class Node:
    state: Path
    nats: NatsInstance
    urls: dict[str, str]
    running: dict[str, RunningService]

    def env(self, cli_env: dict[str, str]) -> dict[str, str]:
        out = {
            **cli_env,
            "JIT_STATE_DIR": str(self.state),
            "JIT_NATS_URL": self.nats.url,
            **{f"JIT_{name.upper()}_ADDR": f"127.0.0.1:{svc.app.port}" for name, svc in self.running.items()},
        }
        for name, url in self.urls.items():
            if not url.startswith("sqlite"):
                out[f"JIT_{name.upper()}_DATABASE_URL"] = url
        return out


def database_urls(backend: str, state: Path, postgres: Callable[[], Any]) -> dict[str, str]:
    names = ("tasks", "evidence", "preservation", "messaging", "victims")
    if backend == "sqlite":
        return {n: f"sqlite:///{state / (n + '.db')}" for n in names}
    pg = postgres()
    return {n: str(pg.create_database(f"node_{n}_{uuid.uuid4().hex[:8]}")) for n in names}


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def node_factory(
    request: pytest.FixtureRequest, keycloak: Any, tmp_path: Path, backend: str
) -> Iterator[Callable[[str], Node]]:
    made: list[Node] = []

    def make(label: str, *, start: bool = True) -> Node:
        base = tmp_path / label
        state = base / "state"
        state.mkdir(parents=True)
        inst = NatsInstance(free_port(), base / "nats", base / "nats.log").start()
        urls = database_urls(backend, state, lambda: request.getfixturevalue("postgres"))
        node = Node(state, inst, urls, {})
        made.append(node)
        return node

    yield make
    for node in made:
        stop_node(node.running)
        node.nats.stop()


def boot(node: Node, keycloak: Any) -> None:
    common = CommonSettings(nats_url=node.nats.url, oidc_issuer=keycloak.issuer, state_dir=node.state)
    node.running = start_node(common, node.urls, "node")


def settled(node: Node) -> dict[str, Any]:
    """Wait until the outboxes are empty and every consumer has finished; the streams' report then."""

    def done() -> dict[str, Any] | None:
        pending = sum(svc.loop.run(svc.rt.relay.pending_count()) for svc in node.running.values())
        report = stream_report(node.nats.url)
        return report if pending == 0 and not report["busy"] else None

    return eventually(done, timeout=60, interval=0.5)  # type: ignore[no-any-return]


def test_a_restored_node_has_everything_once(
    node_factory: Callable[[str], Node], keycloak: Any, tmp_path: Path, backend: str
) -> None:
    cli_env = {
        "JIT_KEYCLOAK_URL": keycloak.base_url,
        "JIT_KEYCLOAK_ADMIN_USER": keycloak.admin_user,
        "JIT_KEYCLOAK_ADMIN_PASSWORD": keycloak.admin_password,
        "JIT_CONFIG_DIR": str(tmp_path / "cfg"),
    }
    first = node_factory("first")
    boot(first, keycloak)
    env = first.env(cli_env)

    def run(args: list[str], run_env: dict[str, str]) -> Result:
        res = RUNNER.invoke(app, args, env=run_env)
        assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
        return Result(res.exit_code, res.stdout, res.stderr)

    demo = Demo(run, env, out=lambda _: None, exports=tmp_path)
    demo.play(["tasks", "evidence", "preservation", "messaging"])
    note = tmp_path / "minutes.txt"
    note.write_bytes(b"minutes of the coordination meeting\n" * 100)
    demo.jit(
        "msg", "send", f"task:{demo.ids['task']}", "Minutes attached.", "--attach", str(note), as_user="nl-prosecutor"
    )

    def jit(*args: str, user: str, on: dict[str, str]) -> Any:
        res = run(["--json", "--as", user, *args], on)
        assert res.code == 0, res.stderr
        return json.loads(res.stdout)

    def thread(on: dict[str, str], task_id: str) -> list[dict[str, Any]]:
        read = jit("msg", "read", f"task:{task_id}", "--no-mark-read", user="nl-prosecutor", on=on)
        return [{k: m.get(k) for k in ("id", "seq", "body", "system", "attachments")} for m in read["messages"]]

    gap: dict[str, str] = {}

    def write_in_the_gap() -> None:
        # A running node goes on between the stream snapshot and the databases: a task whose event is
        # published, and consumed by messaging (a notice in its thread), after the streams were copied.
        task = jit(
            "task", "create", "--workspace", demo.workspace, "--assignee", "DE", "--kind", "identify-account-holder",
            "--title", "Written while the backup ran", "--due-in", "5d", user="nl-prosecutor", on=env,
        )  # fmt: skip
        gap["task"] = task["id"]

        def noticed() -> bool:  # the thread exists once messaging has taken the task's event
            res = run(["--json", "--as", "nl-prosecutor", "msg", "read", f"task:{task['id']}", "--no-mark-read"], env)
            return res.code == 0 and any(m.get("system") for m in json.loads(res.stdout)["messages"])

        eventually(noticed, timeout=30)
        settled(first)

    settled(first)
    archive = tmp_path / "node.tar.gz"
    node_backup.backup(
        NodeState.of(env), archive, node_backup.NatsOptions(first.nats.url), after_streams=write_in_the_gap
    )
    assert archive.stat().st_mode & 0o777 == 0o600

    def views(on: dict[str, str]) -> dict[str, Any]:
        return {
            "task": jit("task", "show", demo.ids["task"], user="nl-prosecutor", on=on),
            "gap task": jit("task", "show", gap["task"], user="nl-prosecutor", on=on),
            "follow-up": jit("task", "show", demo.ids["follow_up"], user="nl-liaison", on=on),
            "order": jit("preservation", "show", demo.ids["order"], user="nl-liaison", on=on),
            "request": jit("evidence", "request", "show", demo.ids["request"], user="nl-prosecutor", on=on),
            "items": jit("evidence", "items", "--request", demo.ids["request"], user="nl-prosecutor", on=on),
            "custody": jit("evidence", "custody", demo.ids["item"], user="nl-prosecutor", on=on),
            "thread": thread(on, demo.ids["task"]),
            "gap thread": thread(on, gap["task"]),
            "tasks": jit("task", "list", "--workspace", demo.workspace, user="nl-prosecutor", on=on),
        }

    before = views(env)
    assert len([m for m in before["gap thread"] if m["system"]]) == 1
    assert any(m["attachments"] for m in before["thread"])

    # The node goes on after the backup; that change is not in the archive.
    later = jit(
        "task", "create", "--workspace", demo.workspace, "--assignee", "DE", "--kind", "identify-account-holder",
        "--title", "Written after the backup", "--due-in", "5d", user="nl-prosecutor", on=env,
    )  # fmt: skip
    settled(first)
    stop_node(first.running)
    first.running = {}
    first.nats.stop()

    # A fresh state folder and a fresh JetStream: the node's machine is lost.
    second = node_factory("second")
    restore_env = {**second.env(cli_env)}
    res = RUNNER.invoke(app, ["node", "restore", str(archive)], env=restore_env)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "restored" in res.stdout
    assert "published again" in res.stderr  # the gap task's event, missing from the stream snapshot

    boot(second, keycloak)
    env2 = second.env(cli_env)
    report = settled(second)
    after = views(env2)
    for key in before:
        assert after[key] == before[key], key
    refused = run(["--as", "nl-prosecutor", "task", "show", later["id"]], env2)
    assert refused.code == 1 and "NOT_FOUND" in refused.stderr

    # Nothing doubled: each event once in every stream, the gap task's event included, and no consumer
    # processed one twice (the gap task's thread still has one notice).
    for stream, ids in report["ids"].items():
        assert not [i for i, n in ids.items() if n > 1], stream
    assert sum(1 for m in thread(env2, gap["task"]) if m["system"]) == 1

    # Every audit chain verifies; the evidence item's bytes are there and match their digest.
    for service in ("tasks", "evidence", "preservation", "messaging", "victims"):
        res = RUNNER.invoke(app, ["--as", "nl-auditor", "audit", "verify", "--service", service], env=env2)
        assert res.exit_code == 0 and "intact" in res.stdout, res.stdout + res.stderr
    out = tmp_path / "item.bin"
    res = RUNNER.invoke(
        app,
        [
            "--as",
            "nl-prosecutor",
            "evidence",
            "download",
            demo.ids["item"],
            "--out",
            str(out),
            "--purpose",
            "restore check",
        ],
        env=env2,
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    assert (
        hashlib.sha256(out.read_bytes()).hexdigest()
        == next(i for i in before["items"] if i["id"] == demo.ids["item"])["sha256"]
    )
    got = tmp_path / "minutes-back.txt"
    attached = next(m for m in before["thread"] if m["attachments"])
    res = RUNNER.invoke(
        app, ["--as", "nl-prosecutor", "msg", "attachment", attached["id"], "--out", str(got)], env=env2
    )
    assert res.exit_code == 0, res.stdout + res.stderr
    assert got.read_bytes() == note.read_bytes()

    # Restoring again onto this node, which now holds data, is refused in words.
    res = RUNNER.invoke(app, ["node", "restore", str(archive)], env=restore_env)
    assert res.exit_code == 1 and "--replace" in res.stderr, res.stdout + res.stderr


# ---- a node as `jit node init` sets it up: NATS with TLS (and its users), databases migrated ----------


def _env_of(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


async def _fill_stream(url: str, ca: Path, options: dict[str, Any]) -> int:
    from jitlib import tls

    nc = await nats.connect(url, tls=tls.client_context(ca), **options)
    try:
        js = nc.jetstream()
        await js.add_stream(name="JIT_WORKSPACES", subjects=["jit.workspaces.>"])
        for i in range(25):
            await js.publish("jit.workspaces.NL.updated", b"w%d" % i, headers={"Nats-Msg-Id": f"ws-{i}"})
        return (await js.stream_info("JIT_WORKSPACES")).state.messages
    finally:
        await nc.close()


def test_an_initialised_node_is_backed_up_and_restored_over_tls(tmp_path: Path) -> None:
    """`jit node init`'s node: its NATS server from the written configuration (TLS, the node's users),
    the databases migrated; backup and restore go through TLS as the `backup` NATS user, the archive
    sealed under a backup key."""
    import subprocess
    import sys

    from jitdev.nats import nats_server_binary
    from jitdev.procs import port_open, spawn, terminate, wait_until

    port = free_port()
    args = ["node", "init", "--country", "NL", "--dir", str(tmp_path / "nl"), "--nats-port", str(port)]
    res = RUNNER.invoke(app, args)
    assert res.exit_code == 0, res.stdout + res.stderr
    env_file = tmp_path / "nl" / "node.env"
    env = _env_of(env_file)
    conf = tmp_path / "nl" / "nats" / "nats-server.json"
    proc = spawn([nats_server_binary(), "-c", str(conf)], tmp_path / "nats.log")
    try:
        wait_until(lambda: port_open(port), 30, "nats-server", tmp_path / "nats.log", proc)
        # The services' databases, as a deployment makes them before the services serve.
        for name in ("tasks", "evidence", "preservation", "messaging", "victims"):
            done = subprocess.run(
                [sys.executable, "-m", f"services.{name}", "migrate"], env={**env, "PATH": "/usr/bin:/bin"},
                capture_output=True, text=True,
            )  # fmt: skip
            assert done.returncode == 0, done.stderr
        from jitlib import natsauth

        folder = Path(env["JIT_NATS_CREDENTIALS_DIR"])
        admin = natsauth.connect_options(natsauth.resolve("", None, folder, "admin"))
        assert asyncio.run(_fill_stream(env["JIT_NATS_URL"], Path(env["JIT_TLS_CA_FILE"]), admin)) == 25
        assert RUNNER.invoke(app, ["node", "check", "--env-file", str(env_file)], env={}).exit_code == 0

        archive = tmp_path / "nl.tar.gz"
        key = tmp_path / "backup.key"  # kept apart from the archive, which is sealed under it
        key.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
        sealing = ["--env-file", str(env_file), "--encrypt-key", str(key)]
        res = RUNNER.invoke(app, ["node", "backup", str(archive), *sealing], env={})
        assert res.exit_code == 0, res.stdout + res.stderr
        assert "sealed with the backup key" in res.stdout
        assert Path(env["JIT_KEK_FILE"]).read_bytes().strip() not in archive.read_bytes()
        manifest = node_backup.verify(archive, node_backup.load_backup_key(key))
        assert {p["name"] for p in manifest["parts"] if p["kind"] == "key"} == {"kek"}
        assert manifest["node"]["jurisdiction"] == "NL"

        # Lost: the state folder and the KEK file. The stream is deleted too; restore brings all back.
        kek = Path(env["JIT_KEK_FILE"]).read_bytes()
        Path(env["JIT_KEK_FILE"]).unlink()
        for db in Path(env["JIT_STATE_DIR"]).glob("*.db*"):
            db.unlink()
        opening = ["--env-file", str(env_file), "--decrypt-key", str(key)]
        res = RUNNER.invoke(app, ["node", "restore", str(archive), *opening], env={})
        assert res.exit_code == 1 and "the stream JIT_WORKSPACES exists" in res.stderr
        res = RUNNER.invoke(app, ["node", "restore", str(archive), *opening, "--replace"], env={})
        assert res.exit_code == 0, res.stdout + res.stderr
        assert Path(env["JIT_KEK_FILE"]).read_bytes() == kek
        assert sorted(p.name for p in Path(env["JIT_STATE_DIR"]).glob("*.db")) == [
            "evidence.db", "messaging.db", "preservation.db", "tasks.db", "victims.db",
        ]  # fmt: skip
        backup_user = natsauth.connect_options(natsauth.resolve("", None, folder, "backup"))
        ids = stream_ids_tls(env["JIT_NATS_URL"], Path(env["JIT_TLS_CA_FILE"]), backup_user)
        assert ids == {f"ws-{i}" for i in range(25)}
    finally:
        terminate(proc)


def stream_ids_tls(url: str, ca: Path, options: dict[str, Any]) -> set[str]:
    """The message ids of the restored JIT_WORKSPACES, read as the backup user (as restore does)."""
    import datetime as dt

    from jitcli import jetstream_backup
    from jitlib import tls

    async def ids() -> set[str]:
        nc = await jetstream_backup.connect(url, tls=tls.client_context(ca), **options)
        try:
            return await node_backup._stream_ids_since(nc, "JIT_WORKSPACES", dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
        finally:
            await nc.close()

    return asyncio.run(ids())
