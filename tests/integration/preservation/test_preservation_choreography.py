"""Choreography over real NATS: the first expiry warning of an order opens one follow-up task in the tasks
service; an evidence request linked to an order moves it to PRODUCTION_REQUESTED, then PRODUCED."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.evidence.v1 import evidence_pb2 as epb
from jit.preservation.v1 import preservation_pb2 as pb
from jit.tasks.v1 import tasks_pb2, tasks_pb2_grpc
from jitlib.bus import stream_for
from jitlib.clock import ManualClock
from jitlib.ids import new_id
from services.tasks.app import TasksSettings
from services.tasks.app import spec as tasks_spec
from services.tasks.store import RUNTIME as TASKS_RUNTIME
from tests.conftest import wait_for_workspace
from tests.harness import RunningService, eventually, md, start_service
from tests.integration.preservation.conftest import (
    DAY,
    WS,
    Client,
    Launcher,
    evidence_event,
    publish,
    scan_now,
    stream_envelopes,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def tasks_svc_p(
    launcher: Launcher, db_url: str, request: pytest.FixtureRequest, tmp_path_factory: Any
) -> Iterator[Any]:
    """A tasks service on the preservation tests' NATS, with its own database on the module's backend."""
    if db_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path_factory.mktemp('tasks-p') / 'tasks.db'}"
    else:
        url = str(request.getfixturevalue("postgres").create_database(f"tasks_p_{uuid.uuid4().hex[:10]}"))
    settings = TasksSettings(listen="127.0.0.1:0", database_url=url, consumer_group=f"tasks-{uuid.uuid4().hex[:8]}")
    svc = start_service(tasks_spec(), settings, launcher.common)
    wait_for_workspace(svc, WS)
    yield svc
    svc.stop()


def follow_ups(tasks: RunningService, tokens: Any, order_id: str) -> list[tasks_pb2.Task]:
    stub = tasks_pb2_grpc.TaskServiceStub(tasks.channel)
    resp = stub.ListTasks(tasks_pb2.ListTasksRequest(workspace_id=WS, page_size=200), metadata=md(tokens("nl-liaison")))
    return [t for t in resp.tasks if any(link.id == order_id for link in t.links)]


def inbox_has(svc: RunningService, event_id: str) -> bool:
    inbox = TASKS_RUNTIME.inbox
    query = select(inbox.c.event_id).where(inbox.c.event_id == event_id)
    return svc.loop.run(svc.rt.read(lambda s: s.scalar(query))) is not None


def test_the_first_warning_opens_one_follow_up_task(
    launcher: Launcher,
    fresh_db_url: Callable[[], str],
    tasks_svc_p: RunningService,
    tokens: Any,
    pnats: Any,
) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    svc = launcher.start(fresh_db_url(), clock=clock, scan_interval_seconds=3600)
    client = Client(svc, tokens)
    t0 = clock.now()
    order = client.confirmed(shared_with=["DE"])
    expiry = t0 + 90 * DAY

    clock.advance(77 * DAY)  # T-14 d has passed: the first warning
    scan_now(svc)
    tasks = eventually(lambda: follow_ups(tasks_svc_p, tokens, order.id), timeout=30)
    assert len(tasks) == 1
    task = tasks[0]
    assert task.kind == tasks_pb2.TASK_KIND_FOLLOW_UP
    assert task.title == f"Extend or request production: preservation order {order.id}"
    assert task.origin_jurisdiction == "NL" and task.assignee_jurisdiction == "NL"
    assert task.state == tasks_pb2.TASK_STATE_ASSIGNED
    assert task.workspace_id == WS
    assert task.visibility == common_pb2.VISIBILITY_RESTRICTED and list(task.shared_with) == ["DE"]
    assert task.due_at.ToDatetime(tzinfo=UTC) == expiry
    assert task.created_by.user_id == "system"

    # The later warnings are not "first": no more tasks.
    clock.advance(7 * DAY)
    scan_now(svc)

    def warnings() -> list[Envelope] | None:
        envs = stream_envelopes(pnats.url, "JIT_PRESERVATION", "jit.preservation.NL.expiry_warning")
        mine = [e for e in envs if e.aggregate_id == order.id]
        return mine if len(mine) >= 2 else None

    first = eventually(warnings, timeout=30)[0]

    # Redelivery of the same event (same event id, new broker message): the inbox drops it.
    subject = "jit.preservation.NL.expiry_warning"
    publish(pnats.url, stream_for("preservation"), subject, first.SerializeToString(), new_id())
    # The same warning in a new event (new id): the deterministic request_id drops it.
    again = Envelope()
    again.CopyFrom(first)
    again.id = new_id()
    publish(pnats.url, stream_for("preservation"), subject, again.SerializeToString(), again.id)
    eventually(lambda: inbox_has(tasks_svc_p, again.id), timeout=30)
    assert len(follow_ups(tasks_svc_p, tokens, order.id)) == 1
    w = pb.ExpiryWarning()
    assert first.state.Unpack(w) and w.first
    tasks_stub = tasks_pb2_grpc.TaskServiceStub(tasks_svc_p.channel)
    assert tasks_stub.GetTask(tasks_pb2.GetTaskRequest(id=task.id), metadata=md(tokens("de-liaison"))).task.id


def send(pnats: Any, event: str, env: Envelope) -> None:
    publish(pnats.url, stream_for("evidence"), f"jit.evidence.NL.{event}", env.SerializeToString(), env.id)


def test_a_linked_evidence_request_moves_the_order_to_production(
    preservation_svc: RunningService, tokens: Any, pnats: Any
) -> None:
    client = Client(preservation_svc, tokens)
    order = client.confirmed()
    other = client.confirmed()
    request_id = new_id()

    def get(order_id: str) -> pb.PreservationOrder:
        return client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order_id)).order

    # A draft, and a withdrawn request, change nothing.
    send(pnats, "created", evidence_event(order.id, epb.EVIDENCE_REQUEST_STATE_DRAFT, request_id=request_id, version=1))
    send(
        pnats,
        "withdrawn",
        evidence_event(other.id, epb.EVIDENCE_REQUEST_STATE_WITHDRAWN, request_id=new_id(), version=2),
    )

    issued = evidence_event(order.id, epb.EVIDENCE_REQUEST_STATE_ISSUED, request_id=request_id, version=2)
    send(pnats, "issued", issued)
    moved = eventually(
        lambda: (lambda o: o if o.state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED else None)(get(order.id)),
        timeout=30,
    )
    assert moved.follow_up_request_id == request_id and not moved.HasField("expires_at")
    assert get(other.id).state == pb.PRESERVATION_ORDER_STATE_CONFIRMED

    # The same event again (redelivery) and a later non-final state change nothing.
    publish(pnats.url, stream_for("evidence"), "jit.evidence.NL.issued", issued.SerializeToString(), new_id())
    send(
        pnats,
        "acknowledged",
        evidence_event(order.id, epb.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED, request_id=request_id, version=3),
    )
    send(
        pnats,
        "executed",
        evidence_event(order.id, epb.EVIDENCE_REQUEST_STATE_EXECUTED, request_id=request_id, version=4),
    )
    produced = eventually(
        lambda: (lambda o: o if o.state == pb.PRESERVATION_ORDER_STATE_PRODUCED else None)(get(order.id)), timeout=30
    )
    assert produced.version == moved.version + 1  # nothing in between

    events = [
        e.type
        for e in stream_envelopes(pnats.url, "JIT_PRESERVATION", "jit.preservation.NL.*")
        if e.aggregate_id == order.id
    ]
    assert events.count("jit.preservation.v1.PreservationOrderProductionRequested") == 1
    assert events.count("jit.preservation.v1.PreservationOrderProduced") == 1


def test_an_executed_request_produces_an_order_that_missed_the_issue_event(
    preservation_svc: RunningService, tokens: Any, pnats: Any
) -> None:
    client = Client(preservation_svc, tokens)
    order = client.confirmed()
    send(
        pnats, "executed", evidence_event(order.id, epb.EVIDENCE_REQUEST_STATE_EXECUTED, request_id=new_id(), version=5)
    )
    done = eventually(
        lambda: (lambda o: o if o.state == pb.PRESERVATION_ORDER_STATE_PRODUCED else None)(
            client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
        ),
        timeout=30,
    )
    assert done.follow_up_request_id
