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
from tests.harness import RunningService, eventually, md, registered_victims, start_service
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
    (victim,) = registered_victims(svc, pnats.url)
    order = client.confirmed(shared_with=["DE"], victim_refs=[victim])
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
    assert list(task.victim_refs) == [victim]  # VICTIM_BY_PSEUDONYM: the order's victim is the task's

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
    # A provider's voluntary preservation keeps its own period while production is pending.
    assert moved.follow_up_request_id == request_id and moved.expires_at == order.expires_at
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


def test_a_linked_request_for_other_data_leaves_an_epoc_pr_running_and_tells_the_issuer_once(
    preservation_svc: RunningService, tokens: Any, pnats: Any
) -> None:
    """PRESERVATION_PRODUCTION_REQUEST_FOR_THE_PRESERVED_DATA: a voluntary request to the provider's state,
    and an EIO to another state than the provider's (DE), linked to an EPOC-PR to socialnet-ie, do not stop its
    60 days: the order does not move, and the issuer gets one warning for each (not one per event of the
    request). An MLA request to IE then stops the clock."""
    client = Client(preservation_svc, tokens)
    order = client.confirmed(legal_basis=pb.LEGAL_BASIS_EPOC_PR)
    voluntary, elsewhere, mla = new_id(), new_id(), new_id()
    issued, acknowledged = epb.EVIDENCE_REQUEST_STATE_ISSUED, epb.EVIDENCE_REQUEST_STATE_ACKNOWLEDGED
    send(pnats, "issued", evidence_event(order.id, issued, request_id=voluntary, legal_basis=epb.LEGAL_BASIS_VOLUNTARY))
    send(
        pnats,
        "acknowledged",
        evidence_event(order.id, acknowledged, request_id=voluntary, version=3, legal_basis=epb.LEGAL_BASIS_VOLUNTARY),
    )
    send(
        pnats,
        "issued",
        evidence_event(order.id, issued, request_id=elsewhere, addressee="DE", legal_basis=epb.LEGAL_BASIS_EIO),
    )

    def told() -> list[pb.ExpiryWarning]:
        out = []
        for env in stream_envelopes(pnats.url, "JIT_PRESERVATION", "jit.preservation.NL.expiry_warning"):
            w = pb.ExpiryWarning()
            if (
                env.aggregate_id == order.id
                and env.state.Unpack(w)
                and w.kind == pb.WARNING_KIND_PRODUCTION_NOT_COUNTED
            ):
                out.append(w)
        return out

    warnings = eventually(lambda: (lambda found: found if len(found) >= 2 else None)(told()), timeout=30)
    by_request = {w.production_request_id: w for w in warnings}
    assert set(by_request) == {voluntary, elsewhere}
    assert "a VOLUNTARY request is not a production request that may follow a EPOC_PR order" in (
        by_request[voluntary].reason
    )
    assert "addressed to DE, and the order's provider socialnet-ie is established in IE" in by_request[elsewhere].reason
    for w in warnings:
        assert w.first and w.production_outcome == pb.PRODUCTION_OUTCOME_NOT_COUNTED
        assert w.expires_at == order.expires_at and w.order.state == pb.PRESERVATION_ORDER_STATE_CONFIRMED
    still = client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
    assert (still.state, still.expires_at, still.version) == (order.state, order.expires_at, order.version)

    send(pnats, "issued", evidence_event(order.id, issued, request_id=mla))
    moved = eventually(
        lambda: (lambda o: o if o.state == pb.PRESERVATION_ORDER_STATE_PRODUCTION_REQUESTED else None)(
            client.call("nl-liaison", "GetOrder", pb.GetOrderRequest(id=order.id)).order
        ),
        timeout=30,
    )
    assert moved.follow_up_request_id == mla and not moved.HasField("expires_at")
    assert len(told()) == 2


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


def task_audit_operations(tasks: RunningService, tokens: Any, task_id: str) -> list[str]:
    from jit.audit.v1 import audit_pb2, audit_pb2_grpc

    stub = audit_pb2_grpc.AuditServiceStub(tasks.channel)
    out: list[str] = []
    token = ""
    while True:
        page = stub.ListAuditEntries(
            audit_pb2.ListAuditEntriesRequest(page_size=1000, page_token=token), metadata=md(tokens("nl-auditor"))
        )
        out += [e.operation for e in page.entries if e.record_id == task_id]
        token = page.next_page_token
        if not token:
            return out


def in_state(tasks: RunningService, tokens: Any, order_id: str, state: int) -> Callable[[], list[tasks_pb2.Task]]:
    return lambda: [t for t in follow_ups(tasks, tokens, order_id) if t.state == state]


def test_task_follow_up_closes_when_the_order_is_extended_and_once_only(
    launcher: Launcher,
    fresh_db_url: Callable[[], str],
    tasks_svc_p: RunningService,
    tokens: Any,
    pnats: Any,
) -> None:
    """TASK_FOLLOW_UP_CLOSES: the order's extension closes its follow-up task as done (VERIFIED), by the
    system, with an outcome naming the event, audited under that event; the same event again, redelivered
    or in a new envelope, changes nothing; the new expiry's first warning opens a new follow-up."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    svc = launcher.start(fresh_db_url(), clock=clock, scan_interval_seconds=3600)
    client = Client(svc, tokens)
    order = client.confirmed()  # socialnet-ie: 90 days, extensions asked >= 7 days before expiry
    clock.advance(77 * DAY)
    scan_now(svc)
    task = eventually(in_state(tasks_svc_p, tokens, order.id, tasks_pb2.TASK_STATE_ASSIGNED), timeout=30)[0]
    assert task.title.startswith("Extend or request production")

    extended = client.call("nl-liaison", "ExtendOrder", pb.ExtendOrderRequest(id=order.id)).order
    done = eventually(in_state(tasks_svc_p, tokens, order.id, tasks_pb2.TASK_STATE_VERIFIED), timeout=30)[0]
    assert done.id == task.id and done.version == task.version + 1
    assert done.updated_by.user_id == "system" and done.updated_by.jurisdiction == "NL"
    env = next(
        e
        for e in stream_envelopes(pnats.url, "JIT_PRESERVATION", "jit.preservation.NL.extended")
        if e.aggregate_id == order.id
    )
    assert "Done by the order's extension" in done.outcome and env.id in done.outcome
    assert f"event jit.preservation.v1.PreservationOrderExtended {env.id}" in task_audit_operations(
        tasks_svc_p, tokens, task.id
    )

    # Redelivered (same id) and repeated (new id): nothing changes.
    publish(pnats.url, stream_for("preservation"), "jit.preservation.NL.extended", env.SerializeToString(), new_id())
    again = Envelope()
    again.CopyFrom(env)
    again.id = new_id()
    publish(pnats.url, stream_for("preservation"), "jit.preservation.NL.extended", again.SerializeToString(), again.id)
    eventually(lambda: inbox_has(tasks_svc_p, again.id), timeout=30)
    [same] = [t for t in follow_ups(tasks_svc_p, tokens, order.id) if t.id == task.id]
    assert same.version == done.version

    # The new expiry has its own follow-up, still open.
    clock.advance(extended.expires_at.ToDatetime(tzinfo=UTC) - clock.now() - 14 * DAY)
    scan_now(svc)
    fresh = eventually(in_state(tasks_svc_p, tokens, order.id, tasks_pb2.TASK_STATE_ASSIGNED), timeout=30)
    assert [t.id for t in fresh] != [task.id] and len(fresh) == 1


def test_follow_up_titles_follow_the_legal_basis_and_lifted_or_expired_orders_cancel_them(
    launcher: Launcher,
    fresh_db_url: Callable[[], str],
    tasks_svc_p: RunningService,
    tokens: Any,
) -> None:
    """BUDAPEST_ART29_NOT_EXTENDED (CETS 185 Art. 29(7)) and PROVIDER_EXTENSION_PER_GUIDELINE (the provider's
    guideline): neither follow-up says "Extend"; the Budapest one asks for the MLA request. TASK_FOLLOW_UP_CLOSES:
    lifting the Budapest order and the other's expiry cancel their follow-ups, naming the event."""
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    svc = launcher.start(fresh_db_url(), clock=clock, scan_interval_seconds=3600)
    client = Client(svc, tokens)
    budapest = client.confirmed(legal_basis=pb.LEGAL_BASIS_BUDAPEST_ART29)  # 60 days, never extended
    no_extension = client.confirmed(provider_id="chatapp-nl")  # 60 days, the provider does not extend
    clock.advance(46 * DAY)
    scan_now(svc)
    [b] = eventually(in_state(tasks_svc_p, tokens, budapest.id, tasks_pb2.TASK_STATE_ASSIGNED), timeout=30)
    [n] = eventually(in_state(tasks_svc_p, tokens, no_extension.id, tasks_pb2.TASK_STATE_ASSIGNED), timeout=30)
    assert b.title == f"Request production by mutual legal assistance: preservation order {budapest.id}"
    assert "Art. 29(7)" in b.description
    assert n.title == f"Request production before expiry: preservation order {no_extension.id}"
    assert "the provider does not extend" in n.description
    assert "Extend" not in b.title + n.title

    client.call("nl-liaison", "LiftOrder", pb.LiftOrderRequest(id=budapest.id, reason="suspect identified"))
    [lifted] = eventually(in_state(tasks_svc_p, tokens, budapest.id, tasks_pb2.TASK_STATE_CANCELLED), timeout=30)
    assert lifted.state_reason.startswith("No longer needed: the order was lifted (preservation order event lifted")

    clock.advance(15 * DAY)  # past the 60 days: the order expires
    scan_now(svc)
    [gone] = eventually(in_state(tasks_svc_p, tokens, no_extension.id, tasks_pb2.TASK_STATE_CANCELLED), timeout=30)
    assert "the order expired" in gone.state_reason and "(preservation order event expired" in gone.state_reason
