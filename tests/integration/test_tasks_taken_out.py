"""A task whose assignee was taken out of the JIT, through the real tasks service (on SQLite and on
PostgreSQL), real Keycloak tokens and a NATS of this module's own: the directory event of the amendment
(`jit admin workspace remove-member`) reaches the service, the task then says its assignee was taken out and
its issuer takes it back from ACCEPTED to a remaining member (rules TASK_TAKEN_BACK, JIT_MEMBER_TAKEN_OUT)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from jit.common.v1 import common_pb2
from jit.events.v1.envelope_pb2 import Envelope
from jit.tasks.v1 import tasks_pb2 as pb
from jit.tasks.v1 import tasks_pb2_grpc
from jitdev.nats import NatsInstance
from tests.conftest import amend_membership, read_stream, wait_for_workspace
from tests.harness import RunningService, error_reason, eventually, field_violations, md, rid

pytestmark = pytest.mark.integration
WS = "jit-demo"


@pytest.fixture(scope="module")
def tasks_here(
    db_url: str, keycloak: Any, own_nats: NatsInstance, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningService]:
    """The tasks service on the module's backend and on the module's own NATS, where DE may be taken out of
    the demo workspace for no other module."""
    from jitlib.clock import OffsetClock
    from jitlib.config import CommonSettings
    from services.tasks.app import TasksSettings, spec
    from tests.harness import start_service

    common = CommonSettings(
        nats_url=own_nats.url, oidc_issuer=keycloak.issuer, state_dir=tmp_path_factory.mktemp("taken-out")
    )
    settings = TasksSettings(listen="127.0.0.1:0", database_url=db_url, consumer_group=f"out-{uuid.uuid4().hex[:8]}")
    svc = start_service(spec(), settings, common, clock=OffsetClock())
    wait_for_workspace(svc, WS)
    yield svc
    svc.stop()


def _former(svc: RunningService) -> frozenset[str]:
    info = svc.rt.workspaces.get(WS)
    assert info is not None
    return frozenset(info.former_members)


def test_list_filter_assignee_taken_out_lists_the_tasks_of_a_country_taken_out(
    tasks_here: RunningService, own_nats: NatsInstance, tokens: Any
) -> None:
    """ListTasks ``assignee_taken_out``: empty while nobody was taken out of the workspace; once DE is, NL's
    tasks addressed to DE (in any state, as their ``assignee_taken_out`` says) and nothing else, combined with
    a state filter; IE lists the workspace-visible ones. DE is a member again at the end (for the next test)."""
    stub = tasks_pb2_grpc.TaskServiceStub(tasks_here.channel)

    def call(user: str, method: str, request: Any) -> Any:
        return getattr(stub, method)(request, metadata=md(tokens(user)), timeout=15)

    if "DE" in _former(tasks_here):  # taken out by a test before: a member again first
        amend_membership(tasks_here, own_nats.url, WS, "DE", taken_out=False)

    def create(assignee: str, visibility: int = common_pb2.VISIBILITY_WORKSPACE) -> pb.Task:
        request = pb.CreateTaskRequest(
            request_id=rid(),
            workspace_id=WS,
            title=f"Subscriber data for {assignee}",
            kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
            assignee_jurisdiction=assignee,
            visibility=visibility,
        )
        return call("nl-prosecutor", "CreateTask", request).task

    assigned, accepted, restricted, cancelled, to_ie = (
        create("DE"),
        create("DE"),
        create("DE", common_pb2.VISIBILITY_RESTRICTED),
        create("DE"),
        create("IE"),
    )
    call("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=accepted.id))
    call("nl-prosecutor", "CancelTask", pb.CancelTaskRequest(id=cancelled.id, reason="asked elsewhere"))

    def listed(user: str, **filters: Any) -> list[pb.Task]:
        request = pb.ListTasksRequest(workspace_id=WS, assignee_taken_out=True, page_size=2, **filters)
        found: list[pb.Task] = []
        while True:
            page = call(user, "ListTasks", request)
            found += page.tasks
            if not page.next_page_token:
                return found
            request.page_token = page.next_page_token

    assert listed("nl-prosecutor") == [] and listed("ie-liaison") == []

    try:
        amend_membership(tasks_here, own_nats.url, WS, "DE", taken_out=True)
        assert _former(tasks_here) == {"DE"}

        mine = [assigned, accepted, restricted, cancelled]
        nl = listed("nl-prosecutor")
        assert [t.id for t in nl] == [t.id for t in mine]
        assert all(t.assignee_taken_out and t.assignee_jurisdiction == "DE" for t in nl)
        everything = call("nl-prosecutor", "ListTasks", pb.ListTasksRequest(workspace_id=WS, page_size=200)).tasks
        assert {t.id for t in nl} == {t.id for t in everything if t.assignee_taken_out}
        assert to_ie.id in {t.id for t in everything}
        open_ones = listed("nl-prosecutor", states=[pb.TASK_STATE_ASSIGNED, pb.TASK_STATE_ACCEPTED])
        assert [t.id for t in open_ones] == [assigned.id, accepted.id, restricted.id]
        assert [t.id for t in listed("nl-prosecutor", states=[pb.TASK_STATE_ACCEPTED])] == [accepted.id]
        assert [t.id for t in listed("ie-liaison")] == [assigned.id, accepted.id, cancelled.id]
    finally:
        amend_membership(tasks_here, own_nats.url, WS, "DE", taken_out=False)
    assert listed("nl-prosecutor") == []


def test_task_taken_back_from_a_country_taken_out_of_the_jit(
    tasks_here: RunningService, own_nats: NatsInstance, tokens: Any
) -> None:
    """TASK_TAKEN_BACK and JIT_MEMBER_TAKEN_OUT: DE accepted NL's task; while DE is a member, NL cannot
    assign it elsewhere (FAILED_PRECONDITION ILLEGAL_TRANSITION, nothing written). DE is taken out: the task
    says so to NL and to IE, in a read and in a list, and NL is offered "assign"; NL cannot give it back to DE
    (INVALID_ARGUMENT naming assignee_jurisdiction) but assigns it to IE with a reason, recorded and
    published to the remaining members, DE's node left out; IE accepts it."""
    stub = tasks_pb2_grpc.TaskServiceStub(tasks_here.channel)

    def call(user: str, method: str, request: Any) -> Any:
        return getattr(stub, method)(request, metadata=md(tokens(user)), timeout=15)

    def failure(user: str, method: str, request: Any) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            call(user, method, request)
        return info.value

    def listed(user: str, task_id: str) -> pb.Task:
        found = call(user, "ListTasks", pb.ListTasksRequest(workspace_id=WS, page_size=200)).tasks
        return next(t for t in found if t.id == task_id)

    created = call(
        "nl-prosecutor",
        "CreateTask",
        pb.CreateTaskRequest(
            request_id=rid(),
            workspace_id=WS,
            title="Which accounts posted her address?",
            kind=pb.TASK_KIND_IDENTIFY_ACCOUNT_HOLDER,
            assignee_jurisdiction="DE",
            visibility=common_pb2.VISIBILITY_WORKSPACE,
        ),
    ).task
    accepted = call("de-liaison", "AcceptTask", pb.AcceptTaskRequest(id=created.id)).task
    assert accepted.state == pb.TASK_STATE_ACCEPTED and not accepted.assignee_taken_out

    # DE still a member: an accepted task is not the issuer's to move.
    to_ie = pb.AssignTaskRequest(id=created.id, assignee_jurisdiction="IE", reason="IE's police hold the logs")
    refused = failure("nl-prosecutor", "AssignTask", to_ie)
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION and error_reason(refused) == "ILLEGAL_TRANSITION"
    issuer_view = call("nl-prosecutor", "GetTask", pb.GetTaskRequest(id=created.id)).task
    assert issuer_view.version == accepted.version and not issuer_view.assignee_taken_out
    assert list(issuer_view.allowed_actions) == ["renegotiate", "cancel"]

    info = tasks_here.rt.workspaces.get(WS)
    assert info is not None and "DE" in info.members
    amend_membership(tasks_here, own_nats.url, WS, "DE", taken_out=True)
    assert _former(tasks_here) == {"DE"}

    issuer_view = call("nl-prosecutor", "GetTask", pb.GetTaskRequest(id=created.id)).task
    assert issuer_view.assignee_taken_out and list(issuer_view.allowed_actions) == ["assign", "renegotiate", "cancel"]
    in_list = listed("nl-prosecutor", created.id)
    assert in_list.assignee_taken_out and list(in_list.allowed_actions) == ["assign", "renegotiate", "cancel"]
    seen_by_ie = listed("ie-liaison", created.id)
    assert seen_by_ie.assignee_taken_out and list(seen_by_ie.allowed_actions) == []
    gone = failure("de-liaison", "GetTask", pb.GetTaskRequest(id=created.id))
    assert gone.code() == grpc.StatusCode.NOT_FOUND

    back_to_de = failure("nl-prosecutor", "AssignTask", pb.AssignTaskRequest(id=created.id))
    assert back_to_de.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "taken out" in field_violations(back_to_de)["assignee_jurisdiction"]
    to_ie.expected_version = accepted.version
    moved = call("nl-prosecutor", "AssignTask", to_ie).task
    assert moved.state == pb.TASK_STATE_ASSIGNED and moved.assignee_jurisdiction == "IE"
    assert moved.state_reason == "IE's police hold the logs" and moved.version == accepted.version + 1
    assert not moved.assignee_taken_out

    def published() -> list[Envelope]:
        envs = [Envelope.FromString(m.data) for m in read_stream(own_nats.url, "JIT_TASKS", "jit.tasks.NL.assigned")]
        return [e for e in envs if e.aggregate_id == created.id]

    event = eventually(published)[0]
    state = pb.Task()
    assert event.type == "jit.tasks.v1.TaskAssigned" and event.state.Unpack(state)
    assert state.assignee_jurisdiction == "IE" and state.state_reason == moved.state_reason
    assert "DE" not in event.audience and "IE" in event.audience
    assert call("ie-liaison", "AcceptTask", pb.AcceptTaskRequest(id=created.id)).task.state == pb.TASK_STATE_ACCEPTED


def test_task_follow_up_not_for_former_member(tasks_here: RunningService, own_nats: NatsInstance, tokens: Any) -> None:
    """TASK_FOLLOW_UP_NOT_FOR_FORMER_MEMBER: DE is taken out; the first expiry warning of DE's preservation
    order opens no follow-up task (nobody left could act on it or take it back), while the first warning of
    NL's order, published after it (the consumer handles them in stream order), opens NL's follow-up."""
    from datetime import UTC, datetime, timedelta

    from jit.preservation.v1 import preservation_pb2 as ppb
    from jitlib import envelopes
    from jitlib.actors import Actor
    from jitlib.bus import stream_for
    from tests.integration.preservation.conftest import publish

    stub = tasks_pb2_grpc.TaskServiceStub(tasks_here.channel)
    now = tasks_here.rt.clock.now()
    expires = (now + timedelta(days=14)).replace(microsecond=0).astimezone(UTC)

    def warn(origin: str) -> str:
        """The first expiry warning of a new workspace-visible EPOC-PR order issued by ``origin``, as the
        preservation service publishes it; the order's id."""
        order = ppb.PreservationOrder(
            id=str(uuid.uuid4()),
            workspace_id=WS,
            origin_jurisdiction=origin,
            legal_basis=ppb.LEGAL_BASIS_EPOC_PR,
            provider_id="socialnet-ie",
            state=ppb.PRESERVATION_ORDER_STATE_CONFIRMED,
            visibility=common_pb2.VISIBILITY_WORKSPACE,
            version=3,
        )
        order.expires_at.FromDatetime(expires)
        order.extension_deadline.FromDatetime(expires)
        warning = ppb.ExpiryWarning(order=order, offset_seconds=14 * 86400, first=True)
        warning.expires_at.FromDatetime(expires)
        warning.due_at.FromDatetime(now)
        env = envelopes.envelope(
            event_type="jit.preservation.v1.PreservationOrderExpiryWarning",
            state=warning,
            workspace_id=WS,
            origin=origin,
            audience=["NL", "IE"],
            aggregate_type="preservation_order",
            aggregate_id=order.id,
            version=order.version,
            actor=Actor("system", "system", origin),
            now=datetime.now(UTC),
        )
        subject = f"jit.preservation.{origin}.expiry_warning"
        publish(own_nats.url, stream_for("preservation"), subject, env.SerializeToString(), env.id)
        return order.id

    def follow_ups(order_id: str) -> list[pb.Task]:
        found = stub.ListTasks(
            pb.ListTasksRequest(workspace_id=WS, page_size=200), metadata=md(tokens("nl-prosecutor")), timeout=15
        ).tasks
        return [t for t in found if any(link.id == order_id for link in t.links)]

    if "DE" in _former(tasks_here):
        amend_membership(tasks_here, own_nats.url, WS, "DE", taken_out=False)
    amend_membership(tasks_here, own_nats.url, WS, "DE", taken_out=True)
    try:
        de_order = warn("DE")
        nl_order = warn("NL")
        opened = eventually(lambda: follow_ups(nl_order), timeout=30)
        assert [(t.kind, t.assignee_jurisdiction) for t in opened] == [(pb.TASK_KIND_FOLLOW_UP, "NL")]
        assert follow_ups(de_order) == []
    finally:
        amend_membership(tasks_here, own_nats.url, WS, "DE", taken_out=False)
