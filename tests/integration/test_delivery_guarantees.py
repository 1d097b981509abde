"""Nothing lost, nothing duplicated: broker outages, a service killed between commit and publish, a
republish after a crash, and a consumer killed before its ack. Each test has its own NATS server, so
stopping it disturbs no other test; the database backends are the suite's (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
from sqlalchemy import create_engine, text, update

from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitcli import kcadmin
from jitcli.workspace_sync import publish_workspaces
from jitdev.nats import NatsInstance
from jitdev.procs import free_port, wait_until
from jitlib.config import CommonSettings
from jitlib.db import sync_url
from services.tasks.app import TasksSettings, spec
from services.tasks.store import RUNTIME
from tests.conftest import read_stream, wait_for_workspace
from tests.harness import eventually, md, rid, start_service, suite_kek_file

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def own_nats(tmp_path: Path, keycloak: Any) -> Iterator[NatsInstance]:
    inst = NatsInstance(free_port(), tmp_path / "nats", tmp_path / "nats.log").start()
    admin = kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
    asyncio.run(publish_workspaces(inst.url, kcadmin.list_workspaces(admin)))
    yield inst
    inst.stop()


def events_for(nats_url: str, task_id: str) -> list[str]:
    return [
        Envelope.FromString(m.data).type
        for m in read_stream(nats_url, "JIT_TASKS", "jit.tasks.>")
        if Envelope.FromString(m.data).aggregate_id == task_id
    ]


def pending(db_url: str) -> int:
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM outbox WHERE published_at IS NULL")).scalar_one())
    finally:
        engine.dispose()


def new_task(stub: Any, token: str) -> pb.Task:
    req = pb.CreateTaskRequest(
        request_id=rid(),
        workspace_id="jit-demo",
        title="Preserve the account data",
        kind=pb.TASK_KIND_PRESERVE_DATA,
        assignee_jurisdiction="DE",
    )
    return stub.CreateTask(req, metadata=md(token), timeout=15).task


def wait_until_workspace_known(stub: Any, token: str) -> None:
    """A service in another process has learnt the demo workspace once a create stops being refused with
    FAILED_PRECONDITION (WORKSPACE_UNKNOWN)."""

    def known() -> bool:
        try:
            new_task(stub, token)
            return True
        except grpc.RpcError as err:
            return err.code() != grpc.StatusCode.FAILED_PRECONDITION

    eventually(known, timeout=30)


def test_with_nats_down_changes_succeed_and_are_published_once_when_it_returns(
    own_nats: NatsInstance, keycloak: Any, tokens: Any, db_url: str, tmp_path: Path
) -> None:
    common = CommonSettings(nats_url=own_nats.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path)
    settings = TasksSettings(
        listen="127.0.0.1:0", database_url=db_url, outbox_poll_seconds=0.2, consumer_group=f"t-{uuid.uuid4().hex[:8]}"
    )
    svc = start_service(spec(), settings, common)
    try:
        wait_for_workspace(svc, "jit-demo")
        stub = tasks_pb2_grpc.TaskServiceStub(svc.channel)
        own_nats.kill()
        task = new_task(stub, tokens("nl-prosecutor"))
        stub.AcceptTask(pb.AcceptTaskRequest(id=task.id), metadata=md(tokens("de-liaison")), timeout=15)
        assert pending(db_url) >= 2
        own_nats.start()  # same port, same JetStream store
        eventually(lambda: pending(db_url) == 0, timeout=30)
        assert sorted(events_for(own_nats.url, task.id)) == ["jit.tasks.v1.TaskAccepted", "jit.tasks.v1.TaskCreated"]
    finally:
        svc.stop()


def _start_service_process(
    db_url: str, nats_url: str, issuer: str, port: int, group: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "JIT_TASKS_LISTEN": f"127.0.0.1:{port}",
        "JIT_TASKS_DATABASE_URL": db_url,
        "JIT_NATS_URL": nats_url,
        "JIT_OIDC_ISSUER": issuer,
        "JIT_TASKS_CONSUMER_GROUP": group,
        "JIT_TASKS_OUTBOX_POLL_SECONDS": "0.2",
        "JIT_STATE_DIR": str(log.parent),
        "JIT_KEK_FILE": str(suite_kek_file()),  # the node's KEK, shared with the in-process replicas
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.tasks"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    from jitdev.stack import _grpc_healthy

    wait_until(lambda: _grpc_healthy(port), 60, "tasks service", log, proc)
    return proc


def test_a_service_killed_between_commit_and_publish_publishes_after_restart(
    own_nats: NatsInstance, keycloak: Any, tokens: Any, db_url: str, tmp_path: Path
) -> None:
    port, group, log = free_port(), f"t-{uuid.uuid4().hex[:8]}", tmp_path / "tasks.log"
    proc = _start_service_process(db_url, own_nats.url, keycloak.issuer, port, group, log)
    try:
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = tasks_pb2_grpc.TaskServiceStub(channel)

        wait_until_workspace_known(stub, tokens("nl-prosecutor"))
        own_nats.kill()  # the relay cannot publish: the commit happens, the publish does not
        task = new_task(stub, tokens("nl-prosecutor"))
        assert pending(db_url) >= 1
        os.killpg(proc.pid, signal.SIGKILL)  # no graceful drain: a crash
        proc.wait(10)
        channel.close()
        own_nats.start()
        proc = _start_service_process(db_url, own_nats.url, keycloak.issuer, port, group, log)
        eventually(lambda: pending(db_url) == 0, timeout=30)
        assert events_for(own_nats.url, task.id) == ["jit.tasks.v1.TaskCreated"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_a_republished_event_is_dropped_by_the_broker(
    own_nats: NatsInstance, keycloak: Any, tokens: Any, db_url: str, tmp_path: Path
) -> None:
    common = CommonSettings(nats_url=own_nats.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path)
    settings = TasksSettings(
        listen="127.0.0.1:0", database_url=db_url, outbox_poll_seconds=0.2, consumer_group=f"t-{uuid.uuid4().hex[:8]}"
    )
    svc = start_service(spec(), settings, common)
    try:
        wait_for_workspace(svc, "jit-demo")
        stub = tasks_pb2_grpc.TaskServiceStub(svc.channel)
        task = new_task(stub, tokens("nl-prosecutor"))
        eventually(lambda: pending(db_url) == 0)

        # As if the relay crashed after publishing but before marking the row sent.
        svc.loop.run(svc.rt.db.write(lambda s: s.execute(update(RUNTIME.outbox).values(published_at=None))))
        assert pending(db_url) > 0
        svc.rt.relay.wake()
        eventually(lambda: pending(db_url) == 0)
        assert events_for(own_nats.url, task.id) == ["jit.tasks.v1.TaskCreated"]
    finally:
        svc.stop()


async def _publish_test_events(url: str, count: int, refused: tuple[int, ...] = ()) -> list[str]:
    """``count`` events (those at the indexes in ``refused`` a poison message to the handler), then an
    undecodable one."""
    from jitlib.bus import ensure_stream, stream_for

    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, stream_for("tests"))
    ids = []
    for i in range(count):
        kind = "jit.tests.v1.Refused" if i in refused else "jit.tests.v1.Ping"
        env = Envelope(id=str(uuid.uuid4()), type=kind, aggregate_id=f"a{i}")
        await js.publish("jit.tests.NL.ping", env.SerializeToString(), headers={"Nats-Msg-Id": env.id})
        ids.append(env.id)
    await js.publish("jit.tests.NL.ping", b"\xff\xfenot an envelope")  # a poison message
    await nc.close()
    return ids


def test_a_consumer_killed_before_its_ack_processes_the_event_once(
    own_nats: NatsInstance, db_url: str, tmp_path: Path
) -> None:
    from jitlib.db import migrate
    from services.tasks.app import MIGRATIONS

    migrate(MIGRATIONS, db_url)
    engine = create_engine(sync_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE effects (event_id VARCHAR(64) NOT NULL)"))
    ids = asyncio.run(_publish_test_events(own_nats.url, 3))
    durable = f"tests-{uuid.uuid4().hex[:8]}"
    child = [sys.executable, str(ROOT / "tests/integration/consumer_child.py"), own_nats.url, db_url, durable]

    crashed = subprocess.run([*child, "crash", "4"], cwd=ROOT, capture_output=True, timeout=120)
    assert crashed.returncode == 17, crashed.stderr.decode()[-2000:]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM effects")).scalar_one() == 1

    normal = subprocess.run([*child, "normal", "4"], cwd=ROOT, capture_output=True, timeout=120)
    assert normal.returncode == 0, normal.stderr.decode()[-2000:]
    with engine.connect() as conn:
        effects = [r[0] for r in conn.execute(text("SELECT event_id FROM effects"))]
        dead = conn.execute(text("SELECT count(*) FROM dead_letters WHERE consumer = :c"), {"c": durable}).scalar_one()
    engine.dispose()
    assert sorted(effects) == sorted(ids)  # each exactly once, the crashed one included
    assert dead == 1  # the poison message is recorded, not retried forever


def _effects_table(db_url: str) -> Any:
    from jitlib.db import migrate
    from services.tasks.app import MIGRATIONS

    migrate(MIGRATIONS, db_url)
    engine = create_engine(sync_url(db_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS effects (event_id VARCHAR(64) NOT NULL)"))
        conn.execute(text("DELETE FROM effects"))
    return engine


def _effects(engine: Any, durable: str) -> tuple[list[str], int]:
    with engine.connect() as conn:
        effects = [r[0] for r in conn.execute(text("SELECT event_id FROM effects"))]
        dead = conn.execute(text("SELECT count(*) FROM dead_letters WHERE consumer = :c"), {"c": durable}).scalar_one()
    return effects, dead


def test_a_consumer_killed_after_a_batch_commits_before_its_acks_processes_each_event_once(
    own_nats: NatsInstance, db_url: str, tmp_path: Path
) -> None:
    """Batched (two events a transaction): the crash comes after the first transaction committed and
    before any of its acks; the next process finds both in the inbox and runs neither again, then
    handles the rest. None lost, none doubled, the undecodable one set aside once."""
    engine = _effects_table(db_url)
    ids = asyncio.run(_publish_test_events(own_nats.url, 3))
    durable = f"tests-{uuid.uuid4().hex[:8]}"
    child = [sys.executable, str(ROOT / "tests/integration/consumer_child.py"), own_nats.url, db_url, durable]

    crashed = subprocess.run([*child, "crash", "4", "2"], cwd=ROOT, capture_output=True, timeout=120)
    assert crashed.returncode == 17, crashed.stderr.decode()[-2000:]
    effects, _ = _effects(engine, durable)
    assert sorted(effects) == sorted(ids[:2])  # the first transaction: two events, committed together

    normal = subprocess.run([*child, "normal", "4", "2"], cwd=ROOT, capture_output=True, timeout=120)
    assert normal.returncode == 0, normal.stderr.decode()[-2000:]
    effects, dead = _effects(engine, durable)
    engine.dispose()
    assert sorted(effects) == sorted(ids)  # each exactly once
    assert dead == 1


def test_a_refused_event_in_a_batch_costs_its_neighbours_nothing(
    own_nats: NatsInstance, db_url: str, tmp_path: Path
) -> None:
    """One event of a batch of four is a poison message to the handler: the batch's transaction rolls
    back (the refused event's effect with it), each event is then handled alone: the others take effect
    once, the refused one none, set aside once."""
    engine = _effects_table(db_url)
    ids = asyncio.run(_publish_test_events(own_nats.url, 4, refused=(1,)))
    durable = f"tests-{uuid.uuid4().hex[:8]}"
    child = [sys.executable, str(ROOT / "tests/integration/consumer_child.py"), own_nats.url, db_url, durable]
    normal = subprocess.run([*child, "normal", "5", "4"], cwd=ROOT, capture_output=True, timeout=120)
    assert normal.returncode == 0, normal.stderr.decode()[-2000:]
    effects, dead = _effects(engine, durable)
    engine.dispose()
    assert sorted(effects) == sorted(ids[:1] + ids[2:])
    assert dead == 2  # the refused event and the undecodable one


def test_what_an_older_build_set_aside_is_applied_once_after_the_upgrade(
    own_nats: NatsInstance, db_url: str, tmp_path: Path
) -> None:
    """A node on an older build than its peers sets aside the events it cannot read (a newer kind); once
    upgraded, a consumer that may take events late (a replica's) handles them at its start, before its
    stream: each applied once, its letter deleted; a letter kept twice for one event is found handled the
    second time; what still cannot be read (an undecodable event) stays set aside, tried at each start."""
    engine = _effects_table(db_url)
    nc_ids = asyncio.run(_publish_upgrade_events(own_nats.url))
    new_ids = [i for kind, i in nc_ids if kind == "New"]
    durable = f"tests-{uuid.uuid4().hex[:8]}"
    child = [sys.executable, str(ROOT / "tests/integration/consumer_child.py"), own_nats.url, db_url, durable]

    old = subprocess.run([*child, "old", "5"], cwd=ROOT, capture_output=True, timeout=120)
    assert old.returncode == 0, old.stderr.decode()[-2000:]
    effects, dead = _effects(engine, durable)
    assert sorted(effects) == sorted(i for kind, i in nc_ids if kind == "Ping")
    assert dead == 3  # the two it could not read, and the undecodable one
    with engine.begin() as conn:
        sealed = conn.execute(
            text("SELECT payload FROM dead_letters WHERE consumer = :c AND event_id = :e"),
            {"c": durable, "e": new_ids[0]},
        ).scalar_one()
        assert new_ids[0].encode() not in bytes(sealed)  # kept sealed, as a service keeps them
        # The same event set aside twice (its letter written again): the second is found handled.
        conn.execute(
            text(
                "INSERT INTO dead_letters (consumer, event_id, subject, payload, error, deliveries, recorded_at,"
                " workspace_id) SELECT consumer, event_id, subject, payload, error, deliveries, recorded_at,"
                " workspace_id FROM dead_letters WHERE consumer = :c AND event_id = :e"
            ),
            {"c": durable, "e": new_ids[0]},
        )

    new = subprocess.run([*child, "new", "5"], cwd=ROOT, capture_output=True, timeout=120)
    assert new.returncode == 0, new.stderr.decode()[-2000:]
    assert json.loads(new.stdout.decode().splitlines()[0]) == {"applied": 2, "handled": 1, "kept": 1, "gone": 0}
    effects, dead = _effects(engine, durable)
    assert sorted(effects) == sorted(i for _, i in nc_ids)  # each exactly once
    assert dead == 1  # the undecodable one

    again = subprocess.run([*child, "new", "5"], cwd=ROOT, capture_output=True, timeout=120)
    assert again.returncode == 0, again.stderr.decode()[-2000:]
    assert json.loads(again.stdout.decode().splitlines()[0]) == {"applied": 0, "handled": 0, "kept": 1, "gone": 0}
    assert _effects(engine, durable) == (effects, 1)
    engine.dispose()


async def _publish_upgrade_events(url: str) -> list[tuple[str, str]]:
    """Two events any build reads, two of a kind only the newer one does, then an undecodable one."""
    from jitlib.bus import ensure_stream, stream_for

    nc = await nats.connect(url)
    js = nc.jetstream()
    await ensure_stream(js, stream_for("tests"))
    sent = []
    for i, kind in enumerate(("Ping", "New", "Ping", "New")):
        env = Envelope(id=str(uuid.uuid4()), type=f"jit.tests.v1.{kind}", aggregate_id=f"a{i}")
        await js.publish("jit.tests.NL.ping", env.SerializeToString(), headers={"Nats-Msg-Id": env.id})
        sent.append((kind, env.id))
    await js.publish("jit.tests.NL.ping", b"\xff\xfenot an envelope")
    await nc.close()
    return sent


def test_sigterm_drains_in_flight_calls_and_publishes_what_they_wrote(
    own_nats: NatsInstance, keycloak: Any, tokens: Any, db_url: str, tmp_path: Path
) -> None:
    import concurrent.futures

    port, group, log = free_port(), f"t-{uuid.uuid4().hex[:8]}", tmp_path / "tasks.log"
    proc = _start_service_process(db_url, own_nats.url, keycloak.issuer, port, group, log)
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = tasks_pb2_grpc.TaskServiceStub(channel)
    token = tokens("nl-prosecutor")

    wait_until_workspace_known(stub, token)

    def create(_: int) -> str:
        try:
            return new_task(stub, token).id
        except grpc.RpcError as err:
            return err.code().name

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(create, i) for i in range(40)]
        # Stop the service while calls are in flight: after a few have finished, not before.
        eventually(lambda: sum(f.done() for f in futures) >= 5, timeout=60, interval=0.005)
        os.killpg(proc.pid, signal.SIGTERM)
        outcomes = [f.result() for f in futures]
    assert proc.wait(30) == 0, log.read_text()[-2000:]
    channel.close()
    created = [o for o in outcomes if len(o) == 36]
    refused = [o for o in outcomes if len(o) != 36]
    assert created, outcomes
    # Calls that arrive after the stop are refused as unavailable; none fails with an internal error.
    assert set(refused) <= {"UNAVAILABLE", "CANCELLED"}, refused
    published = {
        Envelope.FromString(m.data).aggregate_id for m in read_stream(own_nats.url, "JIT_TASKS", "jit.tasks.>")
    }
    assert set(created) <= published
    assert pending(db_url) == 0
