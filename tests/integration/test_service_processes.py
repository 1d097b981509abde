"""The tasks service run as 2 processes sharing one port (``JIT_TASKS_PROCESSES=2``, ``jitlib.processes``)
on PostgreSQL, started by its real entry point (``python -m services.tasks``): both processes serve
creates, each event reaches the stream once, the audit chain links every entry once and verifies intact,
a request_id sent to both processes at once creates one task, and SIGTERM stops them all."""

from __future__ import annotations

import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from sqlalchemy import func, select

from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitlib import audit, db
from services.tasks.store import RUNTIME, TaskRow
from tests.conftest import read_stream
from tests.harness import eventually, md, rid
from tests.processes import ServiceProcesses, connection, service_processes

pytestmark = pytest.mark.integration
WS = "jit-demo"
#: Connections opened to the shared port: the kernel hands each to one process, so with 16 the chance
#: that one process got none is 2 in 65,536.
CONNECTIONS = 16


@dataclass
class TwoProcesses:
    service: ServiceProcesses
    url: str
    nats_url: str

    @property
    def port(self) -> int:
        return self.service.port


@pytest.fixture(scope="module")
def two(
    postgres: Any, keycloak: Any, nats_server: Any, demo_workspace_synced: str, tmp_path_factory: Any
) -> Iterator[TwoProcesses]:
    state = tmp_path_factory.mktemp("two-processes")
    url = str(postgres.create_database(f"tasks_{uuid.uuid4().hex[:12]}"))
    settings = {
        "JIT_NATS_URL": nats_server.url,
        "JIT_OIDC_ISSUER": keycloak.issuer,
        "JIT_TASKS_DATABASE_URL": url,
        "JIT_TASKS_CONSUMER_GROUP": f"tasks-{uuid.uuid4().hex[:8]}",
    }
    with service_processes("tasks", 2, state, settings) as service:
        yield TwoProcesses(service, url, nats_server.url)


def _channels(port: int) -> list[grpc.Channel]:
    return [connection(port) for _ in range(CONNECTIONS)]


def _create(stub: Any, token: Any, request: pb.CreateTaskRequest | None = None, timeout: float = 30) -> Any:
    """A create, tried again while the process that got it has not learnt the workspace yet (each copy
    follows the workspace directory itself). Each try sends the same request_id, as a client retrying
    must: a try that committed but whose answer was lost (a deadline under load) is replayed, not
    created again."""
    deadline = time.monotonic() + timeout
    request = request or _request()
    while True:
        try:
            return stub.CreateTask(request, metadata=token, timeout=15)
        except grpc.RpcError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _request(title: str = "Served by one of two processes") -> pb.CreateTaskRequest:
    return pb.CreateTaskRequest(
        request_id=rid(), workspace_id=WS, title=title, kind=pb.TASK_KIND_OTHER, assignee_jurisdiction="DE"
    )


def _rows(url: str) -> tuple[int, Any]:
    database = db.Database(url)
    try:

        def q(s: Any) -> tuple[int, Any]:
            # The tasks this module creates (kind OTHER): the service's own consumers also create follow-up
            # tasks (kind FOLLOW_UP) from events other tests left on the shared stream.
            mine = select(func.count()).select_from(TaskRow).where(TaskRow.kind == "OTHER")
            return int(s.scalar(mine) or 0), audit.verify(s, RUNTIME)

        return database.write_sync(q)
    finally:
        database.dispose()


def test_both_processes_serve_each_event_once_and_the_chain_links_every_entry_once(
    two: TwoProcesses, tokens: Any
) -> None:
    token = md(tokens("nl-prosecutor"))
    channels = _channels(two.port)
    try:
        created = [_create(tasks_pb2_grpc.TaskServiceStub(ch), token) for ch in channels]
        copies = two.service.copies()
        assert len(copies) == 2
        served = {pid: two.service.established(pid) for pid in copies}
        assert all(n > 0 for n in served.values()), served  # a create reached each process
        assert sum(served.values()) == CONNECTIONS
    finally:
        for ch in channels:
            ch.close()

    ids = {r.task.id for r in created}
    assert len(ids) == CONNECTIONS

    def published() -> Counter[str] | None:
        seen = Counter(
            Envelope.FromString(m.data).aggregate_id for m in read_stream(two.nats_url, "JIT_TASKS", "jit.tasks.>")
        )
        return seen if ids <= set(seen) else None

    seen = eventually(published)
    assert {i: seen[i] for i in ids} == dict.fromkeys(ids, 1)

    def linked() -> Any:
        count, report = _rows(two.url)
        return (count, report) if report.pending == 0 else None

    count, report = eventually(linked)
    assert count == CONNECTIONS
    assert report.intact, report.problem
    assert report.entries_checked == report.head_seq >= CONNECTIONS


def test_one_request_id_sent_to_both_processes_at_once_creates_one_task(two: TwoProcesses, tokens: Any) -> None:
    token = md(tokens("nl-prosecutor"))
    before, _ = _rows(two.url)
    request = _request(title="Sent twice at once")
    channels = _channels(two.port)
    try:
        stubs = [tasks_pb2_grpc.TaskServiceStub(ch) for ch in channels]
        for stub in stubs:  # each connection set up (and the directory known) before the race
            _create(stub, token)
        served = [two.service.established(pid) for pid in two.service.copies()]
        assert all(n > 0 for n in served), served
        with ThreadPoolExecutor(CONNECTIONS) as pool:
            answers = list(pool.map(lambda s: s.CreateTask(request, metadata=token, timeout=15), stubs))
    finally:
        for ch in channels:
            ch.close()
    assert len({a.task.id for a in answers}) == 1  # one won, every other replayed it
    after, report = _rows(two.url)
    assert after == before + CONNECTIONS + 1
    assert report.intact


def test_sigterm_stops_every_process(two: TwoProcesses) -> None:
    copies = two.service.copies()
    two.service.supervisor.send_signal(signal.SIGTERM)
    assert two.service.supervisor.wait(60) == 0
    assert not [pid for pid in copies if Path(f"/proc/{pid}").exists()]
