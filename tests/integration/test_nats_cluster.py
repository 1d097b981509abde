"""A node that outgrows one machine: its NATS as a three-server cluster with every stream in three copies
(R3), two replicas each of the tasks and preservation services on PostgreSQL (one database per service),
and a downstream consumer running twice. One NATS server (the tasks stream's leader) is killed with
SIGKILL in the middle of a burst of creates; then everything is counted: nothing lost, nothing doubled,
and the services go on. The killed server comes back and catches up."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import grpc
import nats
import pytest
from nats.js.api import StreamInfo
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from jit.events.v1.envelope_pb2 import Envelope
from jit.preservation.v1 import preservation_pb2 as ppb
from jit.preservation.v1 import preservation_pb2_grpc
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitcli import kcadmin
from jitcli.workspace_sync import publish_workspaces
from jitdev.nats import ClusterMember, NatsCluster, NatsInstance
from jitlib.bus import Bus, EventConsumer, StreamRefused, ensure_stream, stream_for
from jitlib.config import CommonSettings
from jitlib.db import Database, sync_url
from jitlib.natsauth import NodeUsers
from jitlib.workspaces import WORKSPACE_STREAM
from services.preservation.app import PreservationSettings
from services.preservation.app import spec as preservation_spec
from services.tasks.app import TasksSettings
from services.tasks.app import spec as tasks_spec
from services.tasks.events import STREAM as TASKS_STREAM
from services.tasks.store import RUNTIME
from tests.conftest import SUITE_USER, read_stream, wait_for_workspace
from tests.harness import LoopThread, RunningService, eventually, md, rid, start_service

pytestmark = pytest.mark.integration

T = TypeVar("T")
BURST = 300  # task creates
ORDERS = 100  # preservation order creates, among them
KILL_AFTER = 130  # calls answered before the server is killed
DOWNSTREAM = "cluster-downstream"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, keycloak: Any, nats_users: NodeUsers) -> Iterator[NatsCluster]:
    """Three NATS servers on loopback that refuse a client without credentials (each service connects as
    its own user; test code as the suite's), with the workspaces of Keycloak announced on them as `jit
    admin workspace sync` does (its stream is made with one copy; the services bring it to three)."""
    suite = {"user": SUITE_USER.user, "password": SUITE_USER.password.get_secret_value()}
    inst = NatsCluster.local(
        tmp_path_factory.mktemp("nats-cluster"),
        authorization=nats_users.authorization(extra_users=[suite]),
        url_credentials=SUITE_USER,
    ).start()
    admin = kcadmin.connect(keycloak.base_url, keycloak.admin_user, keycloak.admin_password)
    workspaces = kcadmin.list_workspaces(admin)

    def announced() -> bool:
        # The first publish to a stream just made on one server of a fresh cluster may find no responder
        # until the stream's interest has reached the server the client is on; announcing again is
        # harmless (the broker drops a version it already has).
        try:
            asyncio.run(publish_workspaces(inst.address, workspaces, credentials=nats_users.credentials("admin")))
        except (nats.errors.Error, TimeoutError):
            return False
        return True

    eventually(announced, timeout=30, interval=0.5)
    yield inst
    inst.stop()


async def _stream_info(urls: list[str], name: str) -> StreamInfo:
    nc = await nats.connect(urls, connect_timeout=2)
    try:
        return await nc.jetstream(timeout=5).stream_info(name)
    finally:
        await nc.close()


def try_stream_info(urls: list[str], name: str) -> StreamInfo | None:
    """The stream's info, or None while the cluster cannot answer (an election after a server's loss)."""
    try:
        return asyncio.run(_stream_info(urls, name))
    except (nats.errors.Error, TimeoutError):
        return None


def stream_info(urls: list[str], name: str) -> StreamInfo:
    info: StreamInfo = eventually(lambda: try_stream_info(urls, name), timeout=30)
    return info


def leader_of(urls: list[str], name: str) -> str:
    """The server that leads ``name`` (its RAFT group), once one is elected."""

    def leader() -> str | None:
        info = try_stream_info(urls, name)
        return info.cluster.leader if info is not None and info.cluster is not None else None

    return str(eventually(leader, timeout=30))


def all_copies_current(urls: list[str], name: str) -> bool:
    """The stream has a leader and two followers, each online and current."""
    info = try_stream_info(urls, name)
    cluster = info.cluster if info is not None else None
    if cluster is None or not cluster.leader:
        return False
    followers = cluster.replicas or []
    return len(followers) == 2 and all(p.current and not p.offline for p in followers)


class Downstream:
    """A durable consumer of the tasks stream, run twice (two replicas of a consumer on one database):
    each event it processes writes one row, so a doubled delivery would show as a doubled row."""

    def __init__(self, cluster: NatsCluster, db_url: str) -> None:
        self.loop = LoopThread()
        self.db = Database(db_url)
        self.buses: list[Bus] = []
        self.consumers: list[EventConsumer] = []

        def handler(session: Session, envelope: Envelope) -> None:
            session.execute(
                text("INSERT INTO downstream_seen (event_id, task_id) VALUES (:e, :t)"),
                {"e": envelope.id, "t": envelope.aggregate_id},
            )

        async def start() -> None:
            for i in range(2):
                # As the suite's user: a consumer of the node that no permission table names.
                bus = Bus(cluster.address, f"downstream-{i}", replicas=3, credentials=SUITE_USER)
                bus.start()
                consumer = EventConsumer(
                    bus,
                    self.db,
                    RUNTIME,
                    durable=DOWNSTREAM,
                    stream=TASKS_STREAM,
                    filter_subject="jit.tasks.>",
                    handler=handler,
                    ack_wait_seconds=5.0,
                )
                consumer.start()
                self.buses.append(bus)
                self.consumers.append(consumer)

        self.loop.run(start())

    def stop(self) -> None:
        async def stop() -> None:
            for consumer in self.consumers:
                await consumer.stop()
            for bus in self.buses:
                await bus.close()

        self.loop.run(stop())
        self.loop.close()
        self.db.engine.dispose()


def read_all(url: str, stream: str, subjects: str, at_least: int) -> list[Envelope] | None:
    """Every event on ``stream``, once the stream answers with at least ``at_least`` of them."""
    try:
        events = [Envelope.FromString(m.data) for m in read_stream(url, stream, subjects)]
    except (nats.errors.Error, TimeoutError):
        return None
    return events if len(events) >= at_least else None


def scalar(db_url: str, sql: str) -> Any:
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar_one()
    finally:
        engine.dispose()


def rows(db_url: str, sql: str) -> list[Any]:
    engine = create_engine(sync_url(db_url))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def retried(call: Callable[[], T]) -> T:
    """A create cut off on the way is sent again with the same request id (the service answers it with the
    record it already made), so a retry can never make a second record."""
    for attempt in range(5):
        try:
            return call()
        except grpc.RpcError as err:
            if err.code() not in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) or attempt == 4:
                raise
    raise AssertionError("unreachable")


def create_task(stub: Any, token: str, request_id: str) -> str:
    req = pb.CreateTaskRequest(
        request_id=request_id,
        workspace_id="jit-demo",
        title="Preserve the account data",
        kind=pb.TASK_KIND_PRESERVE_DATA,
        assignee_jurisdiction="DE",
    )
    return retried(lambda: str(stub.CreateTask(req, metadata=md(token), timeout=30).task.id))


def create_order(stub: Any, token: str, request_id: str) -> str:
    req = ppb.CreateOrderRequest(
        request_id=request_id,
        workspace_id="jit-demo",
        legal_basis=ppb.LEGAL_BASIS_PROVIDER_VOLUNTARY,
        provider_id="socialnet-ie",
        targets=[ppb.TargetIdentifier(kind=ppb.TARGET_KIND_ACCOUNT_HANDLE, value="@harasser_x")],
        data_categories=[ppb.DATA_CATEGORY_SUBSCRIBER],
        description="Preserve before the account is deleted",
    )
    return retried(lambda: str(stub.CreateOrder(req, metadata=md(token), timeout=30).order.id))


def replicas_of(make: Callable[[], tuple[Any, Any]], common: CommonSettings, count: int = 2) -> list[RunningService]:
    """``count`` replicas of one service (the same database and consumer group), each knowing the demo
    workspace."""
    out: list[RunningService] = []
    try:
        for _ in range(count):
            service_spec, settings = make()
            svc = start_service(service_spec, settings, common)
            out.append(svc)
            wait_for_workspace(svc, "jit-demo")
    except BaseException:
        for svc in out:
            svc.stop()
        raise
    return out


def created_once(events: list[Envelope], created_type: str, ids: list[str]) -> None:
    """Each event once on the stream, and each record's creation once."""
    assert Counter(e.id for e in events).most_common(1)[0][1] == 1
    created = Counter(e.aggregate_id for e in events if e.type == created_type)
    assert set(created) == set(ids)
    assert set(created.values()) == {1}


def stored_once(db_url: str, table: str, request_ids: list[str], ids: list[str]) -> None:
    """Each accepted create is one row, whichever replica took it and however often it was sent."""
    assert len(set(ids)) == len(ids) == len(request_ids)
    by_request = rows(db_url, f"SELECT request_id, count(*) FROM {table} GROUP BY request_id")
    assert sorted(r[0] for r in by_request) == sorted(request_ids)
    assert all(r[1] == 1 for r in by_request)
    assert {r[0] for r in rows(db_url, f"SELECT id FROM {table}")} == set(ids)


def pending(db_url: str) -> int:
    return int(scalar(db_url, "SELECT count(*) FROM outbox WHERE published_at IS NULL"))


def test_one_nats_server_killed_mid_burst_loses_nothing_and_doubles_nothing(
    cluster: NatsCluster, nats_users: NodeUsers, postgres: Any, keycloak: Any, tokens: Any, tmp_path: Path
) -> None:
    tasks_db = str(postgres.create_database(f"cluster_tasks_{uuid.uuid4().hex[:12]}"))
    orders_db = str(postgres.create_database(f"cluster_preservation_{uuid.uuid4().hex[:12]}"))
    common = CommonSettings(
        nats_url=cluster.address,  # every server; each service with its own credentials from the folder
        nats_credentials_dir=nats_users.folder,
        nats_stream_replicas=3,
        oidc_issuer=keycloak.issuer,
        state_dir=tmp_path,
    )
    tasks_group, orders_group = f"cluster-tasks-{uuid.uuid4().hex[:8]}", f"cluster-pres-{uuid.uuid4().hex[:8]}"

    def tasks_replica() -> tuple[Any, Any]:
        settings = TasksSettings(
            listen="127.0.0.1:0", database_url=tasks_db, consumer_group=tasks_group, outbox_poll_seconds=0.2
        )
        return tasks_spec(), settings

    def preservation_replica() -> tuple[Any, Any]:
        settings = PreservationSettings(
            listen="127.0.0.1:0", database_url=orders_db, consumer_group=orders_group, outbox_poll_seconds=0.2
        )
        return preservation_spec(settings), settings

    running: list[RunningService] = []
    downstream: Downstream | None = None
    victim: ClusterMember | None = None
    try:
        tasks = replicas_of(tasks_replica, common)
        running += tasks
        orders = replicas_of(preservation_replica, common)
        running += orders
        engine = create_engine(sync_url(tasks_db))
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE downstream_seen (event_id varchar(64) NOT NULL, task_id varchar(64))"))
        engine.dispose()
        downstream = Downstream(cluster, tasks_db)

        # Every stream the services use is in three copies, the one made with one copy included.
        for name in ("JIT_TASKS", "JIT_PRESERVATION", WORKSPACE_STREAM.name or ""):
            assert eventually(lambda n=name: stream_info(cluster.urls, n).config.num_replicas == 3, timeout=30)
            eventually(lambda n=name: all_copies_current(cluster.urls, n), timeout=30)

        victim = cluster.member(leader_of(cluster.urls, "JIT_TASKS"))
        prosecutor, liaison = tokens("nl-prosecutor"), tokens("nl-liaison")
        task_stubs = [tasks_pb2_grpc.TaskServiceStub(svc.channel) for svc in tasks]
        order_stubs = [preservation_pb2_grpc.PreservationServiceStub(svc.channel) for svc in orders]
        task_requests = [rid() for _ in range(BURST)]
        order_requests = [rid() for _ in range(ORDERS)]
        done = Counter[str]()
        lock = threading.Lock()

        def is_order(i: int) -> bool:
            return i % 4 == 3 and i // 4 < ORDERS  # every fourth call, while orders are left

        def one(i: int) -> str:
            # The calls alternate between the two replicas of each service.
            if is_order(i):
                made = create_order(order_stubs[i % 2], liaison, order_requests[i // 4])
            else:
                made = create_task(task_stubs[i % 2], prosecutor, task_requests[i - min(i // 4, ORDERS)])
            with lock:
                done["calls"] += 1
            return made

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(one, i) for i in range(BURST + ORDERS)]
            eventually(lambda: done["calls"] >= KILL_AFTER, timeout=120, interval=0.01)
            victim.kill()  # SIGKILL the tasks stream's leader, in the middle of the burst
            with lock:
                at_kill = done["calls"]
            made = [f.result(timeout=180) for f in futures]
        assert at_kill < BURST + ORDERS, "the server was killed after the burst, not in its middle"
        order_ids = [m for i, m in enumerate(made) if is_order(i)]
        task_ids = [m for i, m in enumerate(made) if not is_order(i)]

        # Every accepted create is in its database exactly once.
        stored_once(tasks_db, "tasks", task_requests, task_ids)
        stored_once(orders_db, "preservation_orders", order_requests, order_ids)

        # Every event was published (the relays of both replicas failed over to the surviving servers)
        # and reached its stream exactly once.
        eventually(lambda: pending(tasks_db) == 0 and pending(orders_db) == 0, timeout=90)
        survivors = [m.url for m in cluster.members if m is not victim]
        events = eventually(lambda: read_all(survivors[0], "JIT_TASKS", "jit.tasks.>", BURST), timeout=60)
        created_once(events, "jit.tasks.v1.TaskCreated", task_ids)
        assert stream_info(survivors, "JIT_TASKS").state.messages == len(events) == BURST
        order_events = eventually(
            lambda: read_all(survivors[0], "JIT_PRESERVATION", "jit.preservation.>", ORDERS), timeout=60
        )
        created_once(order_events, "jit.preservation.v1.PreservationOrderCreated", order_ids)

        # The downstream consumer processed each event once, across its two replicas and the failover.
        eventually(lambda: scalar(tasks_db, "SELECT count(DISTINCT event_id) FROM downstream_seen") == BURST, 90)
        assert scalar(tasks_db, "SELECT count(*) FROM downstream_seen") == BURST
        assert {r[0] for r in rows(tasks_db, "SELECT task_id FROM downstream_seen")} == set(task_ids)
        assert scalar(tasks_db, f"SELECT count(*) FROM dead_letters WHERE consumer = '{DOWNSTREAM}'") == 0

        # The services go on: a create on each replica after the kill is stored, published and consumed.
        after = [create_task(stub, prosecutor, rid()) for stub in task_stubs]
        after_orders = [create_order(stub, liaison, rid()) for stub in order_stubs]
        eventually(lambda: scalar(tasks_db, "SELECT count(*) FROM downstream_seen") == BURST + len(after), 60)
        assert {r[0] for r in rows(tasks_db, "SELECT task_id FROM downstream_seen")} >= set(after)
        eventually(lambda: pending(orders_db) == 0, timeout=60)
        later = eventually(  # a read under load may time out, as the reads above may
            lambda: read_all(survivors[0], "JIT_PRESERVATION", "jit.preservation.>", ORDERS + len(after_orders)),
            timeout=60,
        )
        assert {e.aggregate_id for e in later} >= set(after_orders)

        # The killed server comes back with its store and catches up: three current copies again.
        victim.start()
        victim.wait_healthy()
        for name in ("JIT_TASKS", "JIT_PRESERVATION"):
            eventually(lambda n=name: all_copies_current(cluster.urls, n), timeout=60)
        info = stream_info(cluster.urls, "JIT_TASKS")
        assert info.cluster is not None
        names = {info.cluster.leader, *(p.name for p in info.cluster.replicas or [])}
        assert victim.server_name in names
        assert info.state.messages == BURST + len(after)
    finally:
        if downstream is not None:
            downstream.stop()
        for svc in running:
            svc.stop()
        if victim is not None and victim.process is None:
            # Failed before it came back: the cluster is the module's, and the tests after this one need all
            # three servers.
            victim.start()
            victim.wait_healthy()


async def _scale(urls: list[str], domain: str) -> list[int | None]:
    nc = await nats.connect(urls)
    js = nc.jetstream()
    cfg = stream_for(domain)
    out = []
    try:
        await ensure_stream(js, cfg)  # as `jit admin workspace` makes one: one copy
        out.append((await js.stream_info(cfg.name or "")).config.num_replicas)
        await ensure_stream(js, cfg, replicas=3)  # a service with JIT_NATS_STREAM_REPLICAS=3 starts
        out.append((await js.stream_info(cfg.name or "")).config.num_replicas)
        await ensure_stream(js, cfg)  # a caller that names no count keeps the three
        out.append((await js.stream_info(cfg.name or "")).config.num_replicas)
        return out
    finally:
        await js.delete_stream(cfg.name or "")
        await nc.close()


def test_an_existing_stream_is_scaled_to_three_copies_and_kept_there(cluster: NatsCluster) -> None:
    assert asyncio.run(_scale(cluster.urls, f"scale{uuid.uuid4().hex[:8]}")) == [1, 3, 3]


async def _connect_without_credentials(address: str) -> None:
    nc = await nats.connect(address, connect_timeout=5, allow_reconnect=False)
    await nc.close()


def test_every_server_of_the_cluster_refuses_a_client_without_credentials(cluster: NatsCluster) -> None:
    for member in cluster.members:
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            asyncio.run(_connect_without_credentials(member.address))


async def _refusal(urls: list[str], replicas: int) -> str:
    nc = await nats.connect(urls)
    try:
        with pytest.raises(StreamRefused) as info:
            await ensure_stream(nc.jetstream(), stream_for(f"refused{uuid.uuid4().hex[:8]}"), replicas=replicas)
        return str(info.value)
    finally:
        await nc.close()


def test_more_copies_than_servers_is_refused_in_words(cluster: NatsCluster) -> None:
    text_ = asyncio.run(_refusal(cluster.urls, 5))
    assert "5 replica(s)" in text_ and "JIT_NATS_STREAM_REPLICAS" in text_


def test_copies_on_a_single_server_are_refused_in_words(nats_server: NatsInstance) -> None:
    text_ = asyncio.run(_refusal([nats_server.url], 3))
    assert "3 replica(s)" in text_ and "JIT_NATS_STREAM_REPLICAS must be 1 on a single server" in text_
